// The XML parser of the SAML modules (@xmldom/xmldom, the DOM that node-saml and xml-crypto use
// too), behind a small typed surface. It is loaded with `require` on purpose: its type file pulls
// the browser DOM library into the whole program (`/// <reference lib="dom" />`), which changes
// the types of Node's own fetch and streams everywhere else.
import { createRequire } from 'node:module';

/** The part of a DOM element the SAML modules read. */
export interface XmlElement {
  readonly nodeType: number;
  readonly namespaceURI: string | null;
  readonly localName: string;
  readonly textContent: string | null;
  readonly firstChild: XmlElement | null;
  readonly nextSibling: XmlElement | null;
  readonly parentNode: XmlElement | null;
  getAttribute(name: string): string | null;
  hasAttribute(name: string): boolean;
  getElementsByTagNameNS(ns: string, localName: string): ArrayLike<XmlElement>;
}

interface XmlDocument {
  readonly documentElement: XmlElement | null;
}

interface XmlDom {
  DOMParser: new (options: {
    errorHandler: (level: string, message: unknown) => void;
  }) => { parseFromString(xml: string, mimeType: string): XmlDocument | undefined };
}

// Required at the first document parsed, not when the server loads this module.
let xmldom: XmlDom | undefined;
const domOf = (): XmlDom => {
  xmldom ??= createRequire(import.meta.url)('@xmldom/xmldom') as XmlDom;
  return xmldom;
};

export const ELEMENT_NODE = 1;

/** Parses a document; returns its root, or the parser's first complaint. */
export function parseXml(xml: string): { root: XmlElement } | { problem: string } {
  const problems: string[] = [];
  const doc = new (domOf().DOMParser)({
    errorHandler: (level, message) => {
      if (level !== 'warning') problems.push(String(message));
    },
  }).parseFromString(xml, 'text/xml');
  const root = doc?.documentElement;
  if (problems.length > 0 || !root) return { problem: problems[0] ?? 'no root element' };
  return { root };
}

/** The child elements of `parent` with this namespace and local name, in document order. */
export function childElements(parent: XmlElement, ns: string, localName: string): XmlElement[] {
  const found: XmlElement[] = [];
  for (let node = parent.firstChild; node; node = node.nextSibling) {
    if (node.nodeType === ELEMENT_NODE && node.namespaceURI === ns && node.localName === localName) found.push(node);
  }
  return found;
}

/** Every descendant element of `parent` with this namespace and local name. */
export function descendantElements(parent: XmlElement, ns: string, localName: string): XmlElement[] {
  return Array.from(parent.getElementsByTagNameNS(ns, localName));
}

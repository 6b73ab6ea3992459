// A deliberately small Markdown renderer for the texts the appliance writes itself (the OpenAPI
// document's descriptions): paragraphs, "- " lists, `code`, **bold** and [links](url). Everything
// is HTML-escaped first, so its output is safe to insert as markup whatever the input holds;
// links go only to http(s), relative and fragment addresses.

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

const SAFE_URL = /^(https?:\/\/|\/|#)/i;

/** Bold and links in text that holds no code span, escaped. */
function inlineText(text: string): string {
  return escapeHtml(text)
    .replace(/\*\*([^*\n]+?)\*\*/g, '<strong>$1</strong>')
    .replace(/\[([^\]\n]+)\]\(([^)\s]+)\)/g, (whole, label: string, url: string) =>
      SAFE_URL.test(url) ? `<a href="${url}">${label}</a>` : whole,
    );
}

/** One line or paragraph's inline markup: code spans are literal, the rest gets bold and links. */
export function renderInline(text: string): string {
  return text
    .split(/`([^`\n]+)`/)
    .map((part, i) => (i % 2 === 1 ? `<code>${escapeHtml(part)}</code>` : inlineText(part)))
    .join('');
}

const LIST_ITEM = /^\s*[-*]\s+/;

/** Markdown to HTML (see the file comment for the subset). */
export function renderMarkdown(markdown: string): string {
  const out: string[] = [];
  for (const block of markdown.replace(/\r\n?/g, '\n').split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((l) => l.trim() !== '');
    let i = 0;
    while (i < lines.length) {
      const list = LIST_ITEM.test(lines[i] as string);
      const run: string[] = [];
      while (i < lines.length && LIST_ITEM.test(lines[i] as string) === list) run.push(lines[i++] as string);
      out.push(
        list
          ? `<ul>${run.map((l) => `<li>${renderInline(l.replace(LIST_ITEM, ''))}</li>`).join('')}</ul>`
          : `<p>${renderInline(run.join('\n'))}</p>`,
      );
    }
  }
  return out.join('');
}

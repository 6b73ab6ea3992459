import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '../../../core/http/markdown.ts';

describe('the small Markdown renderer of the API reference', () => {
  it('renders code spans, bold, links, lists and paragraphs', () => {
    expect(renderMarkdown('Errors are `{error:{code,message}}`, **never** HTML.')).toBe(
      '<p>Errors are <code>{error:{code,message}}</code>, <strong>never</strong> HTML.</p>',
    );
    expect(renderMarkdown('See [the guide](https://example.com/a?b=1&c=2) or [setup](/setup).')).toBe(
      '<p>See <a href="https://example.com/a?b=1&amp;c=2">the guide</a> or <a href="/setup">setup</a>.</p>',
    );
    expect(renderMarkdown('First line\nsame paragraph.\n\nStatuses:\n- `active`: runs\n- **paused**: kept')).toBe(
      '<p>First line\nsame paragraph.</p><p>Statuses:</p><ul><li><code>active</code>: runs</li><li><strong>paused</strong>: kept</li></ul>',
    );
  });

  it('escapes HTML everywhere and keeps Markdown inside code spans literal', () => {
    expect(renderMarkdown('<script>alert(1)</script> `<b>**x**</b>` & "q"')).toBe(
      '<p>&lt;script&gt;alert(1)&lt;/script&gt; <code>&lt;b&gt;**x**&lt;/b&gt;</code> &amp; &quot;q&quot;</p>',
    );
  });

  it('links only to http(s), relative and fragment addresses', () => {
    expect(renderMarkdown('[x](javascript:alert(1)) [y](data:text/html,hi) [z](#jobs)')).toBe(
      '<p>[x](javascript:alert(1)) [y](data:text/html,hi) <a href="#jobs">z</a></p>',
    );
    expect(renderMarkdown('[q](https://e.example/"onmouseover="x)')).toBe(
      '<p><a href="https://e.example/&quot;onmouseover=&quot;x">q</a></p>',
    );
  });

  it('leaves an unclosed backtick or star as it is', () => {
    expect(renderMarkdown('a ` b ** c')).toBe('<p>a ` b ** c</p>');
    expect(renderMarkdown('')).toBe('');
  });
});

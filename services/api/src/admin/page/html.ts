/**
 * A tiny tagged template for server-rendered HTML: every interpolated value is escaped unless it
 * is already `Html` (the result of another `html` template or `raw`); arrays are joined. Nothing
 * from the database reaches the page unescaped.
 */
export type Html = { readonly __html: string };

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

function isHtml(value: unknown): value is Html {
  return typeof value === 'object' && value !== null && '__html' in value;
}

function render(value: unknown): string {
  if (value === null || value === undefined || value === false) return '';
  if (isHtml(value)) return value.__html;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: readonly unknown[]): Html {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? '');
  return { __html: out };
}

/** Trusted markup (constants of this module only, never data). */
export function raw(markup: string): Html {
  return { __html: markup };
}

export function toHtmlString(value: Html): string {
  return value.__html;
}

/**
 * Keeping secrets (API keys, auth headers, credentials inside URLs) out of every message, log line
 * and record Distillery writes. Browser-safe (no Node APIs).
 *
 * A server that echoes a key rarely echoes it verbatim: it may print a prefix ("sk-abc12…"), a
 * suffix, the key upper-cased, or base64 (a Basic auth header). `redactSecrets` therefore removes
 * every run of 6+ characters that occurs inside the key (case-insensitively), inside its base64 at
 * each of the three byte alignments (so the key's base64 within a longer base64 string is caught),
 * or inside its URL-encoding.
 */

/** Shortest piece of a secret that is redacted on its own (shorter runs are too likely by chance). */
export const MIN_SECRET_RUN = 6;

const REDACTED = '***';

function base64(text: string, url = false): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  const out = btoa(binary);
  return url ? out.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') : out.replace(/=+$/, '');
}

/** The forms in which `secret` may show up in text, each lower-cased. */
export function secretVariants(secret: string): string[] {
  const variants = new Set<string>([secret.toLowerCase()]);
  const encoded = encodeURIComponent(secret);
  if (encoded !== secret) variants.add(encoded.toLowerCase());
  for (const url of [false, true]) {
    for (let pad = 0; pad < 3; pad++) {
      // Prefixing 0-2 bytes shifts the key across base64's 3-byte groups; drop the characters that
      // depend on the unknown neighbours (2 at the front when padded, 3 at the end).
      const full = base64('\0'.repeat(pad) + secret, url);
      const stable = full.slice(pad === 0 ? 0 : Math.ceil((pad * 4) / 3) + 1, Math.max(0, full.length - 3));
      variants.add((pad === 0 ? full : stable).toLowerCase());
    }
  }
  return [...variants].filter((v) => v.length >= MIN_SECRET_RUN);
}

interface Matcher {
  variants: string[];
  grams: Set<string>;
}

// A teacher redacts every answer (and every token of it) with the same secrets: build their
// variants and 6-grams once.
const matchers = new Map<string, Matcher>();

function matcherFor(secrets: readonly string[]): Matcher {
  const cacheKey = secrets.join('\0');
  let matcher = matchers.get(cacheKey);
  if (!matcher) {
    const variants = secrets.filter((s) => s.length >= MIN_SECRET_RUN).flatMap(secretVariants);
    const grams = new Set<string>();
    for (const v of variants) for (let i = 0; i + MIN_SECRET_RUN <= v.length; i++) grams.add(v.slice(i, i + MIN_SECRET_RUN));
    matcher = { variants, grams };
    if (matchers.size >= 16) matchers.clear();
    matchers.set(cacheKey, matcher);
  }
  return matcher;
}

/**
 * Replaces with `***` every run of `MIN_SECRET_RUN`+ characters of `text` that appears in a secret
 * or one of its variants (case-insensitive). Secrets shorter than `MIN_SECRET_RUN` are replaced
 * only where they occur whole (a 4-character key is still never printed).
 */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  const list = secrets.filter((s): s is string => typeof s === 'string' && s.length >= 4);
  if (list.length === 0 || text.length === 0) return text;
  let out = text;
  for (const secret of list) if (secret.length < MIN_SECRET_RUN) out = out.split(secret).join(REDACTED);
  const { variants, grams } = matcherFor(list);
  if (variants.length === 0) return out;
  const lower = out.toLowerCase();
  const hide = new Uint8Array(out.length);
  for (let i = 0; i + MIN_SECRET_RUN <= lower.length; i++) {
    if (!grams.has(lower.slice(i, i + MIN_SECRET_RUN))) continue;
    // Extend the run as far as it stays inside one variant.
    let end = i + MIN_SECRET_RUN;
    while (end < lower.length && variants.some((v) => v.includes(lower.slice(i, end + 1)))) end++;
    hide.fill(1, i, end);
  }
  let result = '';
  for (let i = 0; i < out.length;) {
    if (hide[i]) {
      while (i < out.length && hide[i]) i++;
      result += REDACTED;
    } else result += out[i++];
  }
  return result;
}

/** Config fields whose values are secrets wherever they appear (`apiKey`, `headers.*`, tokens, passwords). */
const SECRET_FIELD = /(api[-_]?key|token|secret|passw|credential|authori[sz]ation|cookie|^headers?$)/i;
/** Config fields that hold URLs (which may carry credentials or `?api-key=`). */
const URL_FIELD = /(url|uri|endpoint|host)$/i;

/** Whether any segment of a config path names a secret-bearing field. */
export function isSecretField(path: readonly PropertyKey[]): boolean {
  return path.some((key) => typeof key === 'string' && SECRET_FIELD.test(key));
}

/**
 * A URL (or something meant to be one) safe to print: user info, query and fragment removed, also
 * when the text does not parse as a URL (a base URL missing its scheme still hides its key).
 */
export function safeUrlText(text: string): string {
  let out = text.replace(/[?#].*$/s, (m) => (m.length > 1 ? `${m[0]}…` : m));
  // user:password@ or token@ before the host, with or without a scheme
  out = out.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/@\s]*@/i, (_m, scheme: string | undefined) => `${scheme ?? ''}***@`);
  return out;
}

/** Whether a string looks like it carries a credential in URL form (user info or a key-ish query). */
export function looksLikeCredentialUrl(text: string): boolean {
  return (
    /^([a-z][a-z0-9+.-]*:\/\/)?[^/@\s]+@[^/\s]/i.test(text) ||
    /[?&](api[-_]?key|key|token|access_token|sig|signature|password)=/i.test(text)
  );
}

/**
 * What a config error may print for the value at `path`: secret fields never show their value, only
 * its type and length; URL fields and credential-looking strings show only their safe part.
 */
export function printableConfigValue(path: readonly PropertyKey[], value: unknown): { redacted: boolean; value: unknown } {
  if (value === undefined || value === null) return { redacted: false, value };
  if (isSecretField(path)) {
    const what = typeof value === 'string' ? `a string of ${value.length} characters` : Array.isArray(value) ? 'an array' : typeof value;
    return { redacted: true, value: `(secret ${what}, not shown)` };
  }
  if (typeof value === 'string') {
    const last = path.at(-1);
    if ((typeof last === 'string' && URL_FIELD.test(last)) || looksLikeCredentialUrl(value)) {
      const safe = safeUrlText(value);
      return { redacted: safe !== value, value: safe };
    }
  }
  if (value !== null && typeof value === 'object') {
    // An object holding secrets (a whole teacher spec) is printed with them removed.
    const copy: Record<string, unknown> | unknown[] = Array.isArray(value) ? [] : {};
    let redacted = false;
    for (const [key, inner] of Object.entries(value)) {
      const printable = printableConfigValue([...path, key], inner);
      redacted ||= printable.redacted;
      (copy as Record<string, unknown>)[key] = printable.value;
    }
    return { redacted, value: redacted ? copy : value };
  }
  return { redacted: false, value };
}

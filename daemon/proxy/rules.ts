/**
 * `proxy.rules`: which proxied GETs go through P2P. The first rule whose regex matches the URL
 * without query and fragment wins; it may switch the URL to https or to another host. Pure.
 */
export interface ProxyRuleConfig {
  readonly regex: string;
  readonly useTLS: boolean;
  readonly redirect?: string | undefined;
  readonly filteredQueryParams: readonly string[];
}

export interface ProxyRule extends ProxyRuleConfig {
  readonly pattern: RegExp;
}

export function compileRules(rules: readonly ProxyRuleConfig[]): readonly ProxyRule[] {
  return Object.freeze(rules.map((rule) => Object.freeze({ ...rule, pattern: new RegExp(rule.regex) })));
}

export function matchRule(rules: readonly ProxyRule[], url: URL): ProxyRule | undefined {
  const bare = `${url.protocol}//${url.host}${url.pathname}`;
  return rules.find((rule) => rule.pattern.test(bare));
}

/** The URL a matched rule downloads from. */
export function applyRule(rule: ProxyRule, url: URL): URL {
  const out = new URL(url);
  if (rule.useTLS && out.protocol === 'http:') {
    out.protocol = 'https:';
    if (out.port === '80') out.port = '';
  }
  if (rule.redirect) out.host = rule.redirect;
  return out;
}

/** JSON schema pieces the route files share. */

/** A row id. Beyond 2^53 a number is no longer exact (and SQL refuses it), so no row can have it. */
export const ID = Object.freeze({ type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER });

export const ID_PARAMS = Object.freeze({
  type: 'object',
  properties: { id: ID },
  required: ['id'],
});

/** Names of users, tokens, clusters, applications and configs. */
export const NAME = Object.freeze({ type: 'string', minLength: 1, maxLength: 256 });
export const BIO = Object.freeze({ type: ['string', 'null'], maxLength: 1024 });

/** A querystring schema with the page parameters and `filters` (all optional). */
export function listQuery(filters: Record<string, object>, page: Record<string, object>): object {
  return { type: 'object', properties: { ...page, ...filters }, additionalProperties: false };
}

export interface IdParams {
  id: number;
}

/** ms to Dragonfly's RFC 3339 times. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

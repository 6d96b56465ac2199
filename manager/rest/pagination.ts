/**
 * Dragonfly's list pages: `?page` (from 1) and `?per_page` (10 by default), the total in
 * `x-total-count` and first/prev/next/last links in `Link`, keeping the request's other filters.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Page, Paged } from '../store/query.ts';

/** maxPage keeps the row offset (page × per_page) well inside a 64-bit SQL integer. */
export const PAGE_DEFAULTS = Object.freeze({ perPage: 10, maxPerPage: 1000, maxPage: 1_000_000_000 });

/** Querystring properties every list accepts; spread into a route's querystring schema. */
export const PAGE_QUERY = Object.freeze({
  page: { type: 'integer', minimum: 1, maximum: PAGE_DEFAULTS.maxPage, default: 1 },
  per_page: { type: 'integer', minimum: 1, maximum: PAGE_DEFAULTS.maxPerPage, default: PAGE_DEFAULTS.perPage },
});

export interface PageQuery {
  page?: number;
  per_page?: number;
}

export function pageOf(query: PageQuery): Page & { page: number; perPage: number } {
  const page = query.page ?? 1;
  const perPage = query.per_page ?? PAGE_DEFAULTS.perPage;
  return { page, perPage, limit: perPage, offset: (page - 1) * perPage };
}

function link(request: FastifyRequest, page: number, perPage: number, rel: string): string {
  const url = new URL(request.url, 'http://manager');
  // The filters first, in the request's order, then the page: links differ only at the end.
  const params = new URLSearchParams([...url.searchParams].filter(([key]) => key !== 'page' && key !== 'per_page'));
  params.append('page', String(page));
  params.append('per_page', String(perPage));
  return `<${url.pathname}?${params}>; rel="${rel}"`;
}

/** Sets `x-total-count` and `Link`; returns the items mapped to their API view. */
export function sendPage<T, V>(request: FastifyRequest, reply: FastifyReply, query: PageQuery, paged: Paged<T>, view: (row: T) => V): V[] {
  const { page, perPage } = pageOf(query);
  const last = Math.max(1, Math.ceil(paged.total / perPage));
  const links = [link(request, 1, perPage, 'first')];
  if (page > 1) links.push(link(request, Math.min(page - 1, last), perPage, 'prev'));
  if (page < last) links.push(link(request, page + 1, perPage, 'next'));
  links.push(link(request, last, perPage, 'last'));
  void reply.header('x-total-count', String(paged.total)).header('link', links.join(', '));
  return paged.items.map(view);
}

/** htm bound to Preact's h: tagged templates instead of JSX, so the source needs no compile step. */
import htm from 'htm';
import { h, type VNode } from 'preact';

export const html = htm.bind(h) as (strings: TemplateStringsArray, ...values: unknown[]) => VNode;

/**
 * The soak's chart as a standalone SVG: stacked panels sharing the time axis (RSS, open fds, store
 * bytes), one line per process, the end of the warm-up as a dashed vertical line. Hand-written SVG,
 * as bench/swarm/chart.ts, whose tick rule it reuses.
 */
import { tickStep } from '../swarm/chart.ts';

export interface ChartSeries {
  readonly label: string;
  readonly points: readonly { readonly t: number; readonly v: number }[];
}

export interface ChartPanel {
  readonly title: string;
  readonly series: readonly ChartSeries[];
}

const WIDTH = 760;
const PANEL_HEIGHT = 170;
const MARGIN = { left: 70, right: 130, top: 56, bottom: 44, gap: 34 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A value axis label without noise: 1234.5 -> "1234.5", 0.30000000000000004 -> "0.3". */
function label(value: number): string {
  return String(Number(value.toPrecision(6)));
}

export function soakSvg(title: string, panels: readonly ChartPanel[], durationSeconds: number, warmupSeconds: number): string {
  const height = MARGIN.top + panels.length * (PANEL_HEIGHT + MARGIN.gap) - MARGIN.gap + MARGIN.bottom;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const tStep = tickStep(durationSeconds, 8);
  const tMax = Math.max(tStep, Math.ceil(durationSeconds / tStep) * tStep);
  const x = (t: number) => MARGIN.left + (t / tMax) * plotW;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="white"/>`,
    `<text x="${MARGIN.left}" y="22" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  panels.forEach((panel, index) => {
    const top = MARGIN.top + index * (PANEL_HEIGHT + MARGIN.gap);
    const values = panel.series.flatMap((s) => s.points.map((p) => p.v)).filter(Number.isFinite);
    const vMaxRaw = Math.max(1e-9, ...values) * 1.1;
    const vStep = tickStep(vMaxRaw, 4);
    const vMax = Math.ceil(vMaxRaw / vStep) * vStep;
    const y = (v: number) => top + (1 - v / vMax) * PANEL_HEIGHT;
    for (let t = 0; t <= tMax + 1e-9; t += tStep) {
      parts.push(`<line x1="${x(t).toFixed(1)}" y1="${top}" x2="${x(t).toFixed(1)}" y2="${top + PANEL_HEIGHT}" stroke="#eee"/>`);
      if (index === panels.length - 1) parts.push(`<text x="${x(t).toFixed(1)}" y="${top + PANEL_HEIGHT + 16}" text-anchor="middle">${label(t)}</text>`);
    }
    for (let v = 0; v <= vMax + 1e-9; v += vStep) {
      parts.push(`<line x1="${x(0)}" y1="${y(v).toFixed(1)}" x2="${x(tMax)}" y2="${y(v).toFixed(1)}" stroke="#eee"/>`);
      parts.push(`<text x="${x(0) - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${label(v)}</text>`);
    }
    parts.push(`<rect x="${x(0)}" y="${top}" width="${plotW}" height="${PANEL_HEIGHT}" fill="none" stroke="#333"/>`);
    parts.push(`<text x="${x(0)}" y="${top - 6}" font-weight="bold">${escapeXml(panel.title)}</text>`);
    parts.push(`<line x1="${x(warmupSeconds).toFixed(1)}" y1="${top}" x2="${x(warmupSeconds).toFixed(1)}" y2="${top + PANEL_HEIGHT}" stroke="#555" stroke-dasharray="6 4"/>`);
    if (index === 0) parts.push(`<text x="${(x(warmupSeconds) + 4).toFixed(1)}" y="${top + 14}" fill="#555">end of warm-up</text>`);
    panel.series.forEach((series, i) => {
      const color = COLORS[i % COLORS.length]!;
      const path = series.points
        .filter((p) => Number.isFinite(p.v))
        .map((p, k) => `${k === 0 ? 'M' : 'L'} ${x(p.t).toFixed(1)} ${y(p.v).toFixed(1)}`)
        .join(' ');
      if (path) parts.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
      const legendY = top + 12 + i * 18;
      parts.push(`<line x1="${WIDTH - MARGIN.right + 12}" y1="${legendY}" x2="${WIDTH - MARGIN.right + 32}" y2="${legendY}" stroke="${color}" stroke-width="2"/>`);
      parts.push(`<text x="${WIDTH - MARGIN.right + 38}" y="${legendY + 4}">${escapeXml(series.label)}</text>`);
    });
  });
  parts.push(`<text x="${x(tMax / 2)}" y="${height - 12}" text-anchor="middle">seconds since the load started</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/**
 * The completion-time CDF as a standalone SVG: for each system, the fraction of peers done by
 * time t (a step line), and the floor (size / per-peer rate) as a dashed vertical line. Hand-written
 * SVG so the bench needs no plotting package.
 */

export interface CdfSeries {
  readonly label: string;
  /** Seconds to done per peer; null for a peer that never finished (the line stops short of 1). */
  readonly seconds: readonly (number | null)[];
}

const WIDTH = 760;
const HEIGHT = 440;
const MARGIN = { left: 64, right: 180, top: 40, bottom: 56 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A round step for axis ticks: 1, 2 or 5 times a power of ten, about `count` ticks over `span`. */
export function tickStep(span: number, count = 8): number {
  if (!(span > 0)) return 1;
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const scaled = raw / power;
  return (scaled <= 1 ? 1 : scaled <= 2 ? 2 : scaled <= 5 ? 5 : 10) * power;
}

/** The SVG text of the chart. */
export function cdfSvg(title: string, series: readonly CdfSeries[], floorSeconds: number): string {
  const finite = series.flatMap((s) => s.seconds.filter((v): v is number => v !== null && Number.isFinite(v)));
  const step = tickStep(Math.max(floorSeconds, ...finite, 1) * 1.05);
  const xMax = Math.ceil((Math.max(floorSeconds, ...finite, 1) * 1.05) / step) * step;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (s: number) => MARGIN.left + (s / xMax) * plotW;
  const y = (f: number) => MARGIN.top + (1 - f) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${MARGIN.left}" y="22" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  for (let t = 0; t <= xMax + 1e-9; t += step) {
    parts.push(`<line x1="${x(t).toFixed(1)}" y1="${y(0)}" x2="${x(t).toFixed(1)}" y2="${y(1)}" stroke="#eee"/>`);
    parts.push(`<text x="${x(t).toFixed(1)}" y="${y(0) + 16}" text-anchor="middle">${Number(t.toFixed(6))}</text>`);
  }
  for (let f = 0; f <= 1.0001; f += 0.25) {
    parts.push(`<line x1="${x(0)}" y1="${y(f).toFixed(1)}" x2="${x(xMax)}" y2="${y(f).toFixed(1)}" stroke="#eee"/>`);
    parts.push(`<text x="${x(0) - 8}" y="${(y(f) + 4).toFixed(1)}" text-anchor="end">${f.toFixed(2)}</text>`);
  }
  parts.push(`<rect x="${x(0)}" y="${y(1)}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${x(xMax / 2)}" y="${HEIGHT - 14}" text-anchor="middle">seconds from the common start</text>`);
  parts.push(`<text transform="translate(16 ${y(0.5)}) rotate(-90)" text-anchor="middle">fraction of peers done</text>`);
  parts.push(
    `<line x1="${x(floorSeconds).toFixed(1)}" y1="${y(0)}" x2="${x(floorSeconds).toFixed(1)}" y2="${y(1)}" stroke="#555" stroke-dasharray="6 4"/>`,
    `<text x="${(x(floorSeconds) + 4).toFixed(1)}" y="${y(1) + 14}" fill="#555">floor ${floorSeconds.toFixed(1)} s</text>`,
  );
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const done = s.seconds.filter((v): v is number => v !== null && Number.isFinite(v)).sort((a, b) => a - b);
    const total = s.seconds.length;
    let path = `M ${x(0).toFixed(1)} ${y(0).toFixed(1)}`;
    done.forEach((t, k) => {
      path += ` H ${x(t).toFixed(1)} V ${y((k + 1) / total).toFixed(1)}`;
    });
    parts.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2"/>`);
    const legendY = MARGIN.top + 10 + i * 20;
    parts.push(`<line x1="${WIDTH - MARGIN.right + 16}" y1="${legendY}" x2="${WIDTH - MARGIN.right + 40}" y2="${legendY}" stroke="${color}" stroke-width="2"/>`);
    const failed = total - done.length;
    parts.push(`<text x="${WIDTH - MARGIN.right + 46}" y="${legendY + 4}">${escapeXml(s.label)}${failed > 0 ? ` (${failed} failed)` : ''}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

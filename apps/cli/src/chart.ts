import { type CompareRow, configName } from './commands/compare.js';
import { count, seconds } from './format.js';

/** One bar series of the chart: a figure of every configuration, and how to label it. */
interface Series {
  readonly name: string;
  readonly color: string;
  readonly value: (r: CompareRow) => number;
  readonly label: (r: CompareRow) => string;
}

const SERIES: readonly Series[] = [
  {
    name: 'simulated time',
    color: '#4e79a7',
    value: (r) => r.simulatedSeconds,
    label: (r) => seconds(r.simulatedSeconds),
  },
  { name: 'VM exits', color: '#f28e2b', value: (r) => r.exits, label: (r) => count(r.exits) },
];

const BAR = 34;
const GAP = 6;
const GROUP = SERIES.length * BAR + (SERIES.length - 1) * GAP + 36;
const LEFT = 56;
const TOP = 64;
const PLOT = 240;
const BOTTOM = 56;

/**
 * Draws a comparison as a grouped bar chart in SVG: one group per configuration, one bar per
 * figure (simulated time, VM exits). The figures have different units, so each series is
 * scaled to its own largest value (the y axis is the share of that maximum) and every bar
 * carries its absolute value as a label and a `<title>`.
 *
 * @param title - the chart title (e.g. the kernel command line)
 * @param rows - the configurations, in the order to draw them
 * @returns a standalone SVG document
 * @example
 * ```ts
 * writeFileSync('compare.svg', compareChartSvg(report.command, report.rows));
 * ```
 */
export function compareChartSvg(title: string, rows: readonly CompareRow[]): string {
  const width = LEFT + rows.length * GROUP + 24;
  const height = TOP + PLOT + BOTTOM;
  const baseline = TOP + PLOT;
  const parts: string[] = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${LEFT}" y="20" font-size="13" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  SERIES.forEach((s, i) => {
    const x = LEFT + i * 130;
    parts.push(
      `<rect x="${x}" y="32" width="12" height="12" fill="${s.color}"/>`,
      `<text x="${x + 16}" y="42">${escapeXml(s.name)}</text>`,
    );
  });
  for (const share of [0, 0.25, 0.5, 0.75, 1]) {
    const y = fixed(baseline - share * PLOT);
    parts.push(
      `<line x1="${LEFT}" y1="${y}" x2="${width - 16}" y2="${y}" stroke="#dddddd"/>`,
      `<text x="${LEFT - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${share * 100}%</text>`,
    );
  }
  parts.push(
    `<text transform="translate(14 ${TOP + PLOT / 2}) rotate(-90)" text-anchor="middle">share of the largest value</text>`,
  );
  const maxima = SERIES.map((s) => Math.max(0, ...rows.map(s.value)));
  rows.forEach((r, g) => {
    const x0 = LEFT + 18 + g * GROUP;
    SERIES.forEach((s, i) => {
      const v = s.value(r);
      const h = maxima[i]! > 0 ? (v / maxima[i]!) * PLOT : 0;
      const x = x0 + i * (BAR + GAP);
      const label = escapeXml(s.label(r));
      parts.push(
        `<rect class="bar" data-series="${escapeXml(s.name)}" data-config="${escapeXml(configName(r))}" data-value="${v}" x="${x}" y="${fixed(baseline - h)}" width="${BAR}" height="${fixed(h)}" fill="${s.color}"><title>${escapeXml(configName(r))}, ${escapeXml(s.name)}: ${label}</title></rect>`,
        `<text x="${x + BAR / 2}" y="${fixed(baseline - h - 4)}" text-anchor="middle" font-size="9">${label}</text>`,
      );
    });
    const center = x0 + (SERIES.length * BAR + (SERIES.length - 1) * GAP) / 2;
    parts.push(
      `<text x="${center}" y="${baseline + 18}" text-anchor="middle">${escapeXml(configName(r))}</text>`,
    );
  });
  parts.push(
    `<line x1="${LEFT}" y1="${baseline}" x2="${width - 16}" y2="${baseline}" stroke="#333333"/>`,
    '</svg>',
  );
  return `${parts.join('\n')}\n`;
}

/**
 * Escapes text for XML character data and attribute values (XML 1.0 §2.4, §3.3.3).
 *
 * @param text - any text
 * @returns the text with `&`, `<`, `>`, `"` and `'` as entity references
 */
export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!,
  );
}

function fixed(n: number): string {
  return String(Math.round(n * 100) / 100);
}

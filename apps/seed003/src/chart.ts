import { type CompareRow, count, escapeXml, seconds } from '@vmkit/cli';
import type { Seed003Results } from './experiment.js';

/** A figure drawn as one row of panels. */
interface Metric {
  readonly name: string;
  readonly value: (r: CompareRow) => number;
  readonly label: (r: CompareRow) => string;
}

const METRICS: readonly Metric[] = [
  {
    name: 'simulated time',
    value: (r) => r.simulatedSeconds,
    label: (r) => seconds(r.simulatedSeconds),
  },
  { name: 'VM exits', value: (r) => r.exits, label: (r) => count(r.exits) },
];
/** One colour per vCPU count, in the order of the options (Tableau 10). */
const COLORS = [
  '#4e79a7',
  '#f28e2b',
  '#59a14f',
  '#e15759',
  '#76b7b2',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
];

const BAR = 32;
const GAP = 5;
const PANEL_PLOT = 170;
const PANEL_TOP = 40;
const PANEL_BOTTOM = 36;
const PANEL_LEFT = 48;
const PANEL_HEIGHT = PANEL_TOP + PANEL_PLOT + PANEL_BOTTOM;
const HEADER = 56;

/**
 * Draws the experiment as SVG: one column of panels per workload, one row per figure
 * (simulated time, VM exits); in each panel a group of bars per strategy, one bar per vCPU
 * count, scaled to the panel's largest value and labelled with its absolute value.
 *
 * @param results - the experiment's rows
 * @returns a standalone SVG document
 */
export function seed003ChartSvg(results: Seed003Results): string {
  const { mmus, vcpus } = results.options;
  const commands = [...new Set(results.rows.map((r) => r.command))];
  const group = vcpus.length * (BAR + GAP) + 24;
  const panelWidth = PANEL_LEFT + mmus.length * group + 16;
  const width = Math.max(commands.length * panelWidth, 420);
  const height = HEADER + METRICS.length * PANEL_HEIGHT;
  const parts = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    '<title>seed 003 on vmkit: SPT vs EPT vs EPT with 2 MiB pages</title>',
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    '<text x="12" y="20" font-size="13" font-weight="bold">seed 003 on vmkit: simulated time and VM exits by memory strategy and vCPUs</text>',
  ];
  vcpus.forEach((n, i) => {
    const x = 12 + i * 90;
    parts.push(
      `<rect x="${x}" y="32" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>`,
      `<text x="${x + 16}" y="42">${n} vCPU${n === 1 ? '' : 's'}</text>`,
    );
  });
  commands.forEach((command, c) => {
    METRICS.forEach((metric, m) => {
      const x0 = c * panelWidth;
      const y0 = HEADER + m * PANEL_HEIGHT;
      const base = y0 + PANEL_TOP + PANEL_PLOT;
      const rows = results.rows.filter((r) => r.command === command);
      const max = Math.max(0, ...rows.map(metric.value));
      parts.push(
        `<text x="${x0 + PANEL_LEFT}" y="${y0 + 20}" font-weight="bold">${escapeXml(`${command}: ${metric.name}`)}</text>`,
        `<line x1="${x0 + PANEL_LEFT}" y1="${base}" x2="${x0 + panelWidth - 16}" y2="${base}" stroke="#333333"/>`,
      );
      mmus.forEach((mmu, g) => {
        const gx = x0 + PANEL_LEFT + 12 + g * group;
        vcpus.forEach((n, i) => {
          const row = rows.find((r) => r.mmu === mmu && r.vcpus === n);
          if (row === undefined) return;
          const v = metric.value(row);
          const h = max > 0 ? (v / max) * PANEL_PLOT : 0;
          const x = gx + i * (BAR + GAP);
          const label = escapeXml(metric.label(row));
          parts.push(
            `<rect class="bar" data-command="${escapeXml(command)}" data-metric="${escapeXml(metric.name)}" data-mmu="${mmu}" data-vcpus="${n}" data-value="${v}" x="${x}" y="${fixed(base - h)}" width="${BAR}" height="${fixed(h)}" fill="${COLORS[i % COLORS.length]}"><title>${escapeXml(`${command}, ${mmu}, ${n} vCPUs, ${metric.name}: `)}${label}</title></rect>`,
            `<text x="${x + BAR / 2}" y="${fixed(base - h - 3)}" text-anchor="middle" font-size="7.5">${label}</text>`,
          );
        });
        const center = gx + (vcpus.length * (BAR + GAP) - GAP) / 2;
        parts.push(`<text x="${center}" y="${base + 16}" text-anchor="middle">${mmu}</text>`);
        if (!rows.some((r) => r.mmu === mmu)) {
          parts.push(
            `<text x="${center}" y="${base - 8}" text-anchor="middle" fill="#888888">not run</text>`,
          );
        }
      });
    });
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function fixed(n: number): string {
  return String(Math.round(n * 100) / 100);
}

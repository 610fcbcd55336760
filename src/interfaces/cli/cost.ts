/**
 * `nightshift cost [--since 30d] [--json]`: token usage and cost of agent turns per job and
 * model, with a monthly projection per job (src/app/cost.ts).
 */
import type { Command } from '@commander-js/extra-typings';
import { costReport } from '../../app/cost.ts';
import { globalOptions, withApp } from './context.ts';
import { durationFlag } from './flag-parsers.ts';
import { isoUtc, renderTable } from './render.ts';
import { printJson, printLine } from './output.ts';

function money(v: number | null): string {
  if (v === null) return '-';
  return v >= 1 ? `$${v.toFixed(2)}` : `$${v.toFixed(4)}`;
}

export function registerCostCommand(program: Command): void {
  program
    .command('cost')
    .description(
      'what agent turns cost: tokens and price per job and model, and a monthly projection per job',
    )
    .option('--since <duration>', 'look at runs of this recent span (default 30d)')
    .action(async (opts, cmd) => {
      const { json } = globalOptions(cmd);
      const spanMs = durationFlag('--since', opts.since ?? '30d');
      const nowMs = Date.now();
      const report = await withApp(cmd, (app) =>
        costReport(app.store, app.config().prices, { sinceMs: nowMs - spanMs, nowMs }),
      );
      if (json) {
        printJson(report);
        return;
      }
      printLine(`agent turns since ${isoUtc(report.sinceMs)}:`);
      if (report.byModel.length === 0) {
        printLine('  no agent-turn runs in that span');
        return;
      }
      printLine(
        renderTable(
          ['JOB', 'MODEL', 'RUNS', 'INPUT TOKENS', 'OUTPUT TOKENS', 'COST'],
          report.byModel.map((r) => [
            r.job,
            r.model,
            String(r.runs),
            String(r.promptTokens),
            String(r.completionTokens),
            money(r.cost),
          ]),
        ),
      );
      printLine('');
      printLine('monthly projection (average cost per run x runs in 30 days):');
      printLine(
        renderTable(
          ['JOB', 'RUNS/MONTH', 'BASIS', 'EST. MONTHLY'],
          report.byJob.map((j) => [j.job, String(j.runsPerMonth), j.basis, money(j.monthly)]),
        ),
      );
      printLine(`total: ${money(report.total.cost)} in the span, ~${money(report.total.monthly)} a month`);
      if (report.unpriced.length > 0)
        printLine(
          `no price for ${report.unpriced.join(', ')}: add them under "prices" in config.json ({"MODEL": {"input": 3, "output": 15}} per million tokens)`,
        );
    });
}

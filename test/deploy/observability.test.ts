import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { createApplierMetrics } from '@dirstream/applier';
import { createPollerMetrics } from '@dirstream/poller';
import type { Registry } from 'prom-client';
import { parse } from 'yaml';

/**
 * deploy/observability: the alert rules parse, and every metric (and label matcher) the rules and
 * the Grafana dashboard use exists in the registries the services create — read from the code,
 * not from a copied list, so a renamed metric fails here.
 */
const ROOT = resolve(import.meta.dirname, '..', '..');
const DIR = resolve(ROOT, 'deploy', 'observability');

type Known = Map<string, ReadonlySet<string>>;

function namesOf(registry: Registry, known: Map<string, Set<string>>): void {
  for (const metric of registry.getMetricsAsArray()) {
    const { name, labelNames } = metric as unknown as { name: string; labelNames?: readonly string[] };
    const labels = new Set(labelNames ?? []);
    const type = (metric as unknown as { type?: string }).type;
    known.set(name, labels);
    if (type === 'histogram') {
      known.set(`${name}_bucket`, new Set([...labels, 'le']));
      known.set(`${name}_sum`, labels);
      known.set(`${name}_count`, labels);
    }
  }
}

function knownMetrics(): Known {
  const known = new Map<string, Set<string>>();
  namesOf(createApplierMetrics().registry, known);
  namesOf(createPollerMetrics().registry, known);
  return known;
}

/** `name{label="…", …}` and bare `name` references in a PromQL expression. */
function references(expr: string): { name: string; labels: string[] }[] {
  const found: { name: string; labels: string[] }[] = [];
  for (const match of expr.matchAll(/\b(dirstream_[a-z0-9_]+)\b(\{([^}]*)\})?/g)) {
    const labels = [...(match[3] ?? '').matchAll(/([a-z_]+)\s*(=~|!~|!=|=)/g)].map((m) => m[1] as string);
    found.push({ name: match[1] as string, labels });
  }
  return found;
}

function balanced(expr: string): boolean {
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  const stack: string[] = [];
  for (const c of expr.replace(/"(?:[^"\\]|\\.)*"/g, '""')) {
    if ('([{'.includes(c)) stack.push(c);
    else if (c in pairs && stack.pop() !== pairs[c]) return false;
  }
  return stack.length === 0;
}

type Rule = { alert?: string; expr?: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> };

const rules = (): Rule[] => {
  const doc = parse(readFileSync(resolve(DIR, 'alerts.yaml'), 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
  return doc.groups.flatMap((g) => g.rules);
};

const dashboardExprs = (): string[] => {
  const dashboard = JSON.parse(readFileSync(resolve(DIR, 'grafana-dashboard.json'), 'utf8')) as {
    uid: string;
    panels: { type: string; targets?: { expr: string }[] }[];
  };
  assert.equal(dashboard.uid, 'dirstream-overview');
  return dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
};

function checkReferences(where: string, expr: string, known: Known, missing: string[]): void {
  for (const ref of references(expr)) {
    const labels = known.get(ref.name);
    if (labels === undefined) {
      missing.push(`${where}: metric ${ref.name}`);
      continue;
    }
    for (const label of ref.labels) if (!labels.has(label)) missing.push(`${where}: label ${label} of ${ref.name}`);
  }
}

describe('observability', () => {
  test('the alert rules parse and cover what the issue asks for', () => {
    const all = rules();
    const names = all.map((r) => r.alert);
    for (const wanted of [
      'DirstreamRunFailed',
      'DirstreamRunHalted',
      'DirstreamNoSuccessfulRun',
      'DirstreamLagGrowing',
      'DirstreamDeadLetters',
      'DirstreamSeatLimitExceeded',
    ]) {
      assert.ok(names.includes(wanted), `missing alert ${wanted}`);
    }
    const runbook = readFileSync(resolve(ROOT, 'docs', 'operations.md'), 'utf8');
    for (const rule of all) {
      assert.equal(typeof rule.alert, 'string');
      assert.equal(typeof rule.expr, 'string', `${rule.alert}: expr`);
      assert.ok(balanced(rule.expr as string), `${rule.alert}: unbalanced brackets in ${rule.expr}`);
      assert.match(rule.for ?? '0m', /^\d+[smh]$/, `${rule.alert}: for`);
      assert.ok(['warning', 'critical'].includes(rule.labels?.severity ?? ''), `${rule.alert}: severity`);
      assert.ok(rule.annotations?.summary, `${rule.alert}: summary`);
      const anchor = /^docs\/operations\.md#([a-z0-9-]+)$/.exec(rule.annotations?.runbook ?? '')?.[1];
      assert.ok(anchor, `${rule.alert}: runbook link`);
      assert.match(runbook, new RegExp(`^#+ ${anchor}$`, 'im'), `${rule.alert}: docs/operations.md has no section ${anchor}`);
    }
  });

  test('every metric and label the rules and the dashboard use exists in the code', () => {
    const known = knownMetrics();
    const missing: string[] = [];
    const exprs = [
      ...rules().map((r) => [`alert ${r.alert}`, r.expr as string] as const),
      ...dashboardExprs().map((e) => ['dashboard', e] as const),
    ];
    assert.ok(exprs.length > 20);
    for (const [where, expr] of exprs) {
      assert.ok(balanced(expr), `${where}: unbalanced brackets in ${expr}`);
      checkReferences(where, expr, known, missing);
    }
    assert.deepEqual(missing, []);
  });
});

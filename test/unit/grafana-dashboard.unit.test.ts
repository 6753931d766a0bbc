import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Metrics } from '../../src/infra/metrics.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('The Grafana dashboard and the Prometheus scrape config', () => {
  const dashboard = JSON.parse(readFileSync(path.join(ROOT, 'ops/grafana/dashboards/freight.json'), 'utf8')) as {
    panels: { title: string; targets: { expr: string }[] }[];
  };

  it('query only metrics the service exports (a renamed metric would leave a panel empty)', async () => {
    const exported = new Set<string>();
    for (const m of await new Metrics().registry.getMetricsAsJSON()) {
      exported.add(m.name);
      if (String(m.type) === 'histogram')
        for (const suffix of ['_bucket', '_count', '_sum']) exported.add(`${m.name}${suffix}`);
    }
    const promql = new Set([
      'sum',
      'rate',
      'increase',
      'histogram_quantile',
      'max',
      'by',
      'le',
      'clamp_min',
      'min',
      'avg',
    ]);
    const unknown: string[] = [];
    for (const panel of dashboard.panels) {
      for (const t of panel.targets) {
        // Metric names: identifiers not inside label matchers or quotes, and not PromQL words.
        const bare = t.expr
          .replace(/\{[^}]*\}/g, '')
          .replace(/"[^"]*"/g, '')
          .replace(/\[[^\]]*\]/g, '');
        for (const id of bare.match(/[a-z_][a-z0-9_]*/g) ?? []) {
          if (
            !promql.has(id) &&
            !exported.has(id) &&
            !/^(stage|queue|route|status|state|type|outcome|operation|projector|event)$/.test(id)
          )
            unknown.push(`${panel.title}: ${id}`);
        }
      }
    }
    expect(unknown).to.deep.equal([]);
    expect(dashboard.panels.length).to.be.greaterThan(10);
  });

  it('scrapes services that docker-compose runs', () => {
    const scrape = readFileSync(path.join(ROOT, 'ops/prometheus.yml'), 'utf8');
    const compose = readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
    const services = new Set([...compose.matchAll(/^ {2}([a-z][a-z0-9-]*):\s*$/gm)].map((m) => m[1]));
    const scraped = [...scrape.matchAll(/names: \[([a-z0-9-]+)\]/g)].map((m) => m[1]);
    expect(scraped).to.include.members(['api', 'projector', 'worker']);
    for (const name of scraped) expect(services, `docker-compose runs ${name}`).to.include(name);
  });
});

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for the FMCSA QCMobile API (https://mobile.fmcsa.dot.gov/qc/services), which
 * cannot be reached from here. It answers the four resources a verification reads in the shapes
 * the real service uses (content objects and arrays, "Y"/"N" flags, amounts in thousands of
 * dollars, `allowToOperate` for some records), and can be told to misbehave: answer an HTML
 * maintenance page, fail with 5xx for a while, or answer slowly.
 */
export interface FakeCarrier {
  dotNumber: string;
  legalName: string;
  /** The docket (MC) numbers filed under this USDOT number, digits only. */
  mcNumbers?: string[];
  allowed?: boolean;
  /** Spell the flag `allowToOperate`, as some answers do. */
  oddSpelling?: boolean;
  commonAuthority?: 'A' | 'I' | 'N';
  /** BIPD liability on file, in thousands of dollars (0: none). */
  bipdThousands?: number;
  bipdRequiredThousands?: number;
  /** Active out-of-service orders. */
  outOfService?: boolean;
}

export class FakeFmcsa {
  readonly carriers = new Map<string, FakeCarrier>();
  /** Every request: path (with digits) and when it arrived. */
  readonly requests: { path: string; at: number }[] = [];
  webKey = 'test-web-key';
  /** Answer the maintenance page to the next n requests (Infinity: until reset). */
  maintenance = 0;
  /** Answer 503 to the next n requests. */
  failures = 0;
  /** Wait this long before answering. */
  delayMs = 0;
  private server?: Server;
  private readonly pending = new Set<ServerResponse>();

  add(...carriers: FakeCarrier[]): this {
    for (const c of carriers) this.carriers.set(c.dotNumber, c);
    return this;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.answer(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/qc/services`;
  }

  async stop(): Promise<void> {
    for (const res of this.pending) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  count(pattern: RegExp): number {
    return this.requests.filter((r) => pattern.test(r.path)).length;
  }

  private async answer(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://fake');
    this.requests.push({ path: url.pathname, at: Date.now() });
    this.pending.add(res);
    res.once('close', () => this.pending.delete(res));
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (res.destroyed) return;
    if (this.maintenance > 0) {
      this.maintenance--;
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!DOCTYPE html><html><body><h1>QCMobile is down for scheduled maintenance</h1></body></html>');
      return;
    }
    if (this.failures > 0) {
      this.failures--;
      return json(res, 503, { message: 'Service Unavailable' });
    }
    if (url.searchParams.get('webKey') !== this.webKey) return json(res, 401, { content: 'Webkey not found' });
    const m = /^\/qc\/services\/carriers\/(?:(docket-number)\/(\d+)|(\d+)(?:\/(authority|oos))?)$/.exec(url.pathname);
    if (!m) return json(res, 404, { content: null });
    const [, docket, mc, dot, sub] = m;
    if (docket) {
      const found = [...this.carriers.values()].filter((c) => c.mcNumbers?.includes(mc!.replace(/^0+/, '')));
      return json(res, 200, {
        content: found.map((c) => ({ carrier: carrierRecord(c), _links: {} })),
        retrievalDate: new Date().toISOString(),
      });
    }
    const c = this.carriers.get(dot!);
    if (!c) return json(res, 200, { content: null, retrievalDate: new Date().toISOString() });
    if (sub === 'authority') {
      const status = c.commonAuthority ?? 'A';
      const content = (c.mcNumbers ?? ['']).map((n) => ({
        carrierAuthority: {
          prefix: 'MC',
          docketNumber: n,
          commonAuthorityStatus: status,
          contractAuthorityStatus: 'N',
          brokerAuthorityStatus: 'N',
          authorizedForProperty: 'Y',
        },
      }));
      return json(res, 200, { content });
    }
    if (sub === 'oos') {
      return json(res, 200, {
        content: c.outOfService ? [{ oos: { oosDate: '2026-10-01', oosReason: 'Imminent hazard' } }] : [],
      });
    }
    return json(res, 200, {
      content: { carrier: carrierRecord(c), _links: {} },
      retrievalDate: new Date().toISOString(),
    });
  }
}

function carrierRecord(c: FakeCarrier) {
  const allowed = c.allowed === false || c.outOfService ? 'N' : 'Y';
  return {
    dotNumber: Number(c.dotNumber),
    legalName: c.legalName,
    dbaName: null,
    [c.oddSpelling ? 'allowToOperate' : 'allowedToOperate']: allowed,
    statusCode: 'A',
    oosDate: c.outOfService ? '2026-10-01' : null,
    commonAuthorityStatus: c.commonAuthority ?? 'A',
    contractAuthorityStatus: 'N',
    brokerAuthorityStatus: 'N',
    bipdInsuranceOnFile: String(c.bipdThousands ?? 1000),
    bipdInsuranceRequired: 'Y',
    bipdRequiredAmount: String(c.bipdRequiredThousands ?? 750),
    cargoInsuranceOnFile: '100',
    cargoInsuranceRequired: 'Y',
    phyCity: 'HOUSTON',
    phyState: 'TX',
  };
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

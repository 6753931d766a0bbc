/** What `npm run bench` hands each scenario. */
export interface ScenarioContext {
  /** A Postgres URL with rights to create and drop databases (each scenario makes its own). */
  adminUrl: string;
  redisUrl: string;
  /** Small sizes: checks the scenario runs (CI), figures not comparable. */
  quick: boolean;
  /** How many times each case is measured (median and spread). */
  runs: number;
  log(message: string): void;
}

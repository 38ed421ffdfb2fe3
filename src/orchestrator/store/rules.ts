/** Rules as the admin API stores them: the validated body as JSON, with an id and a creation time. */
import type { Database } from "bun:sqlite";
import type { RuleBody } from "../schemas.ts";
import type { Rule } from "../rules/match.ts";

export function createRuleStore(db: Database) {
  const toRule = (row: { id: string; body: string; created_at: number }): Rule => ({
    id: row.id,
    ...(JSON.parse(row.body) as RuleBody),
    created_at: new Date(row.created_at).toISOString(),
  });
  return {
    create(body: RuleBody, now: number): Rule {
      const id = `rule_${crypto.randomUUID()}`;
      db.run("INSERT INTO rules (id, body, created_at) VALUES (?, ?, ?)", [id, JSON.stringify(body), now]);
      return toRule({ id, body: JSON.stringify(body), created_at: now });
    },
    list: (): Rule[] => db.query<{ id: string; body: string; created_at: number }, []>("SELECT id, body, created_at FROM rules ORDER BY seq").all().map(toRule),
    get(id: string): Rule | null {
      const row = db.query<{ id: string; body: string; created_at: number }, [string]>("SELECT id, body, created_at FROM rules WHERE id = ?").get(id);
      return row ? toRule(row) : null;
    },
    delete: (id: string): boolean => db.run("DELETE FROM rules WHERE id = ?", [id]).changes === 1,
  };
}
export type RuleStore = ReturnType<typeof createRuleStore>;

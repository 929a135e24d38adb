// Answers reverification cases with @clerk/shared's own code (pinned in package.json), the
// reference that tests/integration/differential.rs compares this server's answers with:
// the 403 body of `reverificationError({level, afterMinutes})` and `has({reverification})` over
// a session's `fva`.
//
//   node tests/differential/reverification.mjs <cases.json> <answers.json>
//
// cases.json: [{"id", "config": "strict" | {"level", "afterMinutes"}, "fva": <any JSON>}, …]
// answers.json: [{"id", "body", "has"}, …] in the cases' order; `body` is the 403 body of the
// requirement in its object form, as ClerkJS reads it.
import { readFileSync, writeFileSync } from 'node:fs';
import { reverificationError } from '@clerk/shared/authorization-errors';
import { createCheckAuthorization, validateReverificationConfig } from '@clerk/shared/authorization';

const [casesPath, answersPath] = process.argv.slice(2);
const cases = JSON.parse(readFileSync(casesPath, 'utf8'));

const answers = cases.map((c) => {
  const resolved = validateReverificationConfig(c.config);
  // The object form, level first, as a route written with Clerk's SDK passes it.
  const missing = resolved ? { level: resolved().level, afterMinutes: resolved().afterMinutes } : null;
  const has = createCheckAuthorization({ userId: 'user_differential', factorVerificationAge: c.fva });
  return {
    id: c.id,
    body: missing ? JSON.stringify(reverificationError(missing)) : null,
    has: has({ reverification: c.config }),
  };
});
writeFileSync(answersPath, JSON.stringify(answers));

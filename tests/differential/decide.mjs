// Decides every request of a corpus with @clerk/backend's own authenticateRequest, the reference
// that tests/integration/differential.rs compares this server with.
//
//   node tests/differential/decide.mjs <corpus.json> <answers.json>
//
// corpus.json: {"instances": {"<name>": {publishableKey, secretKey, jwtKey, authorizedParties,
//                                         organizationSyncOptions?}},
//               "cases": [{"id", "instance", "method", "url", "headers": [[name, value], …]}]}
// answers.json: [{"id", "status", "reason", "location", "auth", "authAcceptingPending"}, …] in the
// corpus's order; `auth` is the request state's `toAuth()` (a pending session signed out, Clerk's
// default) and `authAcceptingPending` its `toAuth({ treatPendingAsSignedOut: false })`, each as
// {isAuthenticated, sessionStatus}, or null (a handshake has no auth object).
import { readFileSync, writeFileSync } from 'node:fs';
import { createClerkClient } from '@clerk/backend';

const [corpusPath, answersPath] = process.argv.slice(2);
const corpus = JSON.parse(readFileSync(corpusPath, 'utf8'));

// Clerk's SDK logs warnings (a missing azp, a redirect loop) on the console: not our output.
for (const name of ['log', 'warn', 'error', 'info', 'debug']) console[name] = () => {};

const clients = {};
for (const [name, instance] of Object.entries(corpus.instances)) {
  clients[name] = createClerkClient({
    secretKey: instance.secretKey,
    publishableKey: instance.publishableKey,
    jwtKey: instance.jwtKey,
    // Nothing may leave this machine: the Backend API (handshake nonces, refreshes) is a closed port.
    apiUrl: instance.apiUrl,
  });
}

const answers = [];
for (const c of corpus.cases) {
  const instance = corpus.instances[c.instance];
  const headers = new Headers();
  for (const [name, value] of c.headers) headers.append(name, value);
  let answer;
  try {
    const state = await clients[c.instance].authenticateRequest(
      new Request(c.url, { method: c.method, headers }),
      {
        authorizedParties: instance.authorizedParties,
        jwtKey: instance.jwtKey,
        organizationSyncOptions: instance.organizationSyncOptions,
      },
    );
    const auth = (options) => {
      const object = state.toAuth(options);
      return object
        ? { isAuthenticated: Boolean(object.isAuthenticated), sessionStatus: object.sessionStatus ?? null }
        : null;
    };
    answer = {
      id: c.id,
      status: state.status,
      reason: state.reason || null,
      location: state.headers.get('location'),
      auth: auth(),
      authAcceptingPending: auth({ treatPendingAsSignedOut: false }),
    };
  } catch (error) {
    answer = { id: c.id, status: 'error', reason: String(error && error.message), location: null };
  }
  answers.push(answer);
}
writeFileSync(answersPath, JSON.stringify(answers));

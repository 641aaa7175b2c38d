// The bank's OpenID Connect provider in the tests: node-oidc-provider (npm "oidc-provider"), independent of
// obgw, configured by a JSON file (argv[3]): its signing keys (ES256), the gateway as its one client
// (private_key_jwt, code flow with PKCE S256), the acr values it supports and the test customers. It serves
// HTTPS with the test's certificate (argv[4], argv[5]) on 127.0.0.1:argv[2].
//
// Interactions are completed without a browser: GET /interaction/:uid answers JSON (the prompt and the
// authorization request's parameters), POST /interaction/:uid/login (form: account, acr, amr repeated) signs the
// customer in with the acr and amr the test chooses, POST /interaction/:uid/abort answers access_denied.
// Grants are loaded for the one client (a first-party relying party), so no consent prompt follows.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import Provider from 'oidc-provider';

const [port, configFile, certFile, keyFile] = process.argv.slice(2);
const config = JSON.parse(readFileSync(configFile, 'utf8'));
const issuer = `https://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: config.client_id,
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    id_token_signed_response_alg: 'ES256',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [config.redirect_uri],
    jwks: config.client_jwks,
  }],
  jwks: config.provider_jwks,
  acrValues: config.acr_values,
  claims: { acr: null, amr: null, auth_time: null, sid: null, openid: ['sub'] },
  pkce: { required: () => true },
  enabledJWA: { clientAuthSigningAlgValues: ['ES256'], idTokenSigningAlgValues: ['ES256'] },
  features: { devInteractions: { enabled: false }, claimsParameter: { enabled: true } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    if (!config.accounts.includes(id)) return undefined;
    return { accountId: id, async claims() { return { sub: id }; } };
  },
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid');
    await grant.save();
    return grant;
  },
});

// Why the provider refused something, in its log (the test prints the log when it fails to start).
for (const event of ['grant.error', 'authorization.error', 'server_error']) {
  provider.on(event, (ctx, error) => console.error(event, error.error, error.error_description, error.error_detail || ''));
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

const callback = provider.callback();
const server = https.createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, async (req, res) => {
  const match = new URL(req.url, issuer).pathname.match(/^\/interaction\/[^/]+(\/login|\/abort)?$/);
  if (!match) return callback(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    if (req.method === 'GET') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ prompt: details.prompt.name, params: details.params }));
    } else if (match[1] === '/abort') {
      await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'the customer cancelled' });
    } else {
      const form = await readForm(req);
      await provider.interactionFinished(req, res, {
        login: { accountId: form.get('account'), acr: form.get('acr'), amr: form.getAll('amr') },
      }, { mergeWithLastSubmission: false });
    }
  } catch (error) {
    res.statusCode = 400;
    res.end(String(error));
  }
});
server.listen(Number(port), '127.0.0.1', () => console.log('listening'));

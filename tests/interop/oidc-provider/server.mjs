// panva/oidc-provider with its experimental CIMD feature, on loopback, for the interop tests.
// Env: PORT, CIMD_ALLOW_LOOPBACK (1: drop the library's SSRF dispatcher so it can reach the
// suite's metadata host on 127.0.0.1; 0: keep the production block). Trust for the suite's test
// CA comes from NODE_EXTRA_CA_CERTS.
import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 3000);
const issuer = `http://127.0.0.1:${port}`;
const allowLoopback = process.env.CIMD_ALLOW_LOOPBACK !== '0';

const configuration = {
  cookies: { keys: ['cimd-interop-test-only-cookie-key'] },
  features: {
    devInteractions: { enabled: true }, // built-in login and consent pages, any credentials
    clientIdMetadataDocument: { enabled: true, ack: 'draft-02' },
    revocation: { enabled: true },
  },
  ...(allowLoopback ? {
    fetch(url, options) { delete options.dispatcher; return globalThis.fetch(url, options); },
  } : {}),
  async findAccount(ctx, id) {
    return { accountId: id, async claims() { return { sub: id }; } };
  },
};

const provider = new Provider(issuer, configuration);
// why a token request was refused: the library answers only "grant request is invalid", and
// keeps the reason (a code expired, used twice, not found; a PKCE mismatch) for its events
provider.on('grant.error', (ctx, err) => {
  console.error(JSON.stringify({ event: 'grant.error', error: err.error, detail: err.error_detail }));
});
provider.listen(port, '127.0.0.1', () => {
  console.log(JSON.stringify({ issuer, loopbackFetch: allowLoopback }));
});

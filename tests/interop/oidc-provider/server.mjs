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
provider.listen(port, '127.0.0.1', () => {
  console.log(JSON.stringify({ issuer, loopbackFetch: allowLoopback }));
});

// An outside service verifying Tessera's access tokens from the published keys, as CONTRACT §6 promises: jose's
// createRemoteJWKSet, with the JWKS address taken from the discovery document.
//
// Usage: node jwks.mjs <baseUrl>
// Tokens come from the test in env TESSERA_TOKENS (JSON): valid (issued by the server), tampered (its payload
// changed), foreign (signed by a key the server never published). Exit 0 = pass; one JSON summary line on stdout.

import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from "jose";

const [baseUrl] = process.argv.slice(2);
const tokens = JSON.parse(process.env.TESSERA_TOKENS ?? "{}");
const summary = { ok: false };

try {
  const discovery = await (await fetch(new URL("/.well-known/openid-configuration", baseUrl))).json();
  summary.issuer = discovery.issuer;
  summary.jwksUri = discovery.jwks_uri;
  const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
  const expect = { issuer: discovery.issuer, audience: "tessera", typ: "at+jwt" };

  const { payload, protectedHeader } = await jwtVerify(tokens.valid, jwks, expect);
  summary.sub = payload.sub;
  summary.sid = payload.sid;
  summary.kid = protectedHeader.kid;
  summary.alg = protectedHeader.alg;

  const refusals = {};
  for (const name of ["tampered", "foreign"]) {
    try {
      await jwtVerify(tokens[name], jwks, expect);
      refusals[name] = "accepted";
    } catch (e) {
      refusals[name] = e.code ?? e.name;
    }
  }
  summary.refusals = refusals;
  summary.foreignKid = decodeProtectedHeader(tokens.foreign).kid ?? null;
  summary.ok = true;
} catch (e) {
  summary.error = String(e?.stack ?? e);
}
console.log(JSON.stringify(summary));
process.exit(summary.ok ? 0 : 1);

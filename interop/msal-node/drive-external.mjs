// Unmodified MSAL Node against the emulator's external (Entra External ID) tenant: client
// credentials and on-behalf-of with an authority on the external host, whose discovery names an
// issuer on another host (https://<tenant id>.localhost:<port>/<tenant id>/v2.0).
//
// MSAL Node checks that issuer (msal-common Authority.validateIssuer): the same host as the
// authority, a Microsoft host, `{tenant}.ciamlogin.com`, or a host listed in knownAuthorities.
// Against the emulator only the last can match, so the issuer's host is listed: the workaround
// MSAL.js documents for an External ID issuer it does not recognise
// (AzureAD/microsoft-authentication-library-for-js#8592, #8595). The first attempt lists the
// authority's host alone and must be refused.
//
// Input (one JSON object on stdin): { authority, issuerHost, daemon: {clientId, secret},
//   api: {clientId, secret}, scopes: {app, obo}, userAssertion }
// Output: one JSON object of results on stdout; claims and MSAL's fields, never a token.
// Trust: the emulator's CA through NODE_EXTRA_CA_CERTS (set by the caller).
import { readFileSync } from "node:fs";

import { ConfidentialClientApplication } from "@azure/msal-node";

const input = JSON.parse(readFileSync(0, "utf8"));
const authorityHost = new URL(input.authority).host; // "localhost:<port>"

function app(clientId, clientSecret, knownAuthorities) {
    return new ConfidentialClientApplication({
        auth: { clientId, clientSecret, authority: input.authority, knownAuthorities },
    });
}

function claimsOf(token) {
    const payload = JSON.parse(Buffer.from(token.split(".")[1], "base64url"));
    const keys = ["aud", "iss", "ver", "tid", "oid", "azp", "scp", "roles"];
    return Object.fromEntries(keys.filter((k) => k in payload).map((k) => [k, payload[k]]));
}

async function attempt(name, run) {
    try {
        const result = await run();
        return [name, { ok: true, fromCache: result.fromCache, claims: claimsOf(result.accessToken) }];
    } catch (error) {
        return [name, { ok: false, errorName: error.name, errorCode: error.errorCode,
                        errorMessage: String(error.errorMessage || error.message).slice(0, 500) }];
    }
}

const both = [authorityHost, input.issuerHost];
const results = Object.fromEntries([
    await attempt("authorityHostOnly", () => app(input.daemon.clientId, input.daemon.secret, [authorityHost])
        .acquireTokenByClientCredential({ scopes: input.scopes.app })),
    await attempt("clientCredentials", () => app(input.daemon.clientId, input.daemon.secret, both)
        .acquireTokenByClientCredential({ scopes: input.scopes.app })),
    await attempt("onBehalfOf", () => app(input.api.clientId, input.api.secret, both)
        .acquireTokenOnBehalfOf({ oboAssertion: input.userAssertion, scopes: input.scopes.obo })),
]);
process.stdout.write(JSON.stringify(results, null, 2) + "\n");

// Unmodified MSAL Node against a running Entra emulator: client credentials (certificate and
// secret), on-behalf-of and refresh by refresh token. Reads its input as one JSON object on
// stdin (tokens never go on the command line), prints one JSON object of results on stdout:
// the claims that identify each token and MSAL's own fields, never a token.
//
// Input: { authorityHost, tenantId, daemon: {clientId, certificatePath, secret}, api: {clientId,
//          secret}, web: {clientId, secret}, scopes: {app, obo, refresh}, userAssertion,
//          refreshToken, authCode: {username, redirectUri, scopes, extraScopesToConsent,
//          expectPermissions} }
// Trust: the emulator's CA through NODE_EXTRA_CA_CERTS (set by the caller).
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";

import { ConfidentialClientApplication, CryptoProvider, LogLevel, ResponseMode } from "@azure/msal-node";

const input = JSON.parse(readFileSync(0, "utf8"));
const host = new URL(input.authorityHost).host; // "127.0.0.1:<port>"
const warnings = [];

function app(clientId, credential, tenant = input.tenantId) {
    return new ConfidentialClientApplication({
        auth: {
            clientId,
            authority: `${input.authorityHost}/${tenant}`,
            // Without it MSAL asks Microsoft's instance discovery first and fails offline.
            knownAuthorities: [host],
            ...credential,
        },
        system: {
            loggerOptions: {
                logLevel: LogLevel.Warning,
                piiLoggingEnabled: false,
                loggerCallback: (level, message, containsPii) => {
                    if (!containsPii) warnings.push(message);
                },
            },
        },
    });
}

function certificateCredential(path) {
    const pem = readFileSync(path, "utf8");
    const certPem = pem.slice(pem.indexOf("-----BEGIN CERTIFICATE-----"));
    const thumbprintSha256 = new X509Certificate(certPem).fingerprint256.replaceAll(":", "");
    return { clientCertificate: { thumbprintSha256, privateKey: pem } };
}

function claimsOf(token) {
    const [header, payload] = token.split(".").slice(0, 2).map((part) => JSON.parse(Buffer.from(part, "base64url")));
    const pick = (object, keys) => Object.fromEntries(keys.filter((k) => k in object).map((k) => [k, object[k]]));
    return {
        header: pick(header, ["alg", "typ", "kid", "x5t"]),
        claims: pick(payload, ["aud", "iss", "ver", "tid", "oid", "azp", "appid", "scp", "roles", "idtyp", "sub"]),
    };
}

// What a result says, without any token in it.
function summary(result) {
    if (!result) return { ok: false, error: "no result" };
    return {
        ok: true,
        tokenType: result.tokenType,
        scopes: result.scopes,
        fromCache: result.fromCache,
        correlationId: result.correlationId,
        requestId: result.requestId, // the answer's x-ms-request-id, where MSAL Node keeps it
        expiresInSeconds: result.expiresOn ? Math.round((result.expiresOn.getTime() - Date.now()) / 1000) : null,
        account: result.account
            ? { username: result.account.username, tenantId: result.account.tenantId,
                localAccountId: result.account.localAccountId }
            : null,
        hasIdToken: Boolean(result.idToken),
        accessToken: claimsOf(result.accessToken),
    };
}

async function attempt(name, run) {
    try {
        return [name, summary(await run())];
    } catch (error) {
        // MSAL's error fields: never a token (the server's description names codes and ids only).
        return [name, { ok: false, errorName: error.name, errorCode: error.errorCode, subError: error.subError,
                        errorNo: error.errorNo, status: error.status,
                        errorMessage: String(error.errorMessage || error.message).slice(0, 2000),
                        correlationId: error.correlationId }];
    }
}

// The authorization code flow with MSAL's "extra scopes to consent": this script plays the browser
// (it opens the emulator's account picker and picks the user), MSAL Node does the protocol.
function hiddenInputs(html) {
    const decode = (v) => v.replaceAll("&amp;", "&").replaceAll("&#34;", '"').replaceAll("&quot;", '"')
        .replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">");
    return Object.fromEntries([...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)]
        .map(([, name, value]) => [name, decode(value)]));
}

async function signInWithExtraConsent(client, flow) {
    const pkce = await new CryptoProvider().generatePkceCodes();
    const state = new CryptoProvider().createNewGuid();
    const authUrl = await client.getAuthCodeUrl({
        scopes: flow.scopes, extraScopesToConsent: flow.extraScopesToConsent, redirectUri: flow.redirectUri,
        responseMode: ResponseMode.FORM_POST, codeChallenge: pkce.challenge, codeChallengeMethod: "S256", state,
    });
    const sentScopes = new URL(authUrl).searchParams.get("scope").split(" ");
    const picker = await fetch(authUrl, { redirect: "manual" });
    const page = await picker.text();
    if (picker.status !== 200) throw new Error(`authorize answered ${picker.status}`);
    consentPage.permissionsListed = flow.expectPermissions.filter((text) => page.includes(text));
    consentPage.sentScopes = sentScopes;
    const action = new URL(page.match(/<form method="post" action="([^"]+)"/)[1], authUrl);
    const picked = await fetch(action, {
        method: "POST", redirect: "manual",
        body: new URLSearchParams({ request_id: hiddenInputs(page).request_id, username: flow.username }),
    });
    const answer = hiddenInputs(await picked.text());
    if (answer.error || answer.state !== state) throw new Error(`authorization answer: ${answer.error || "state mismatch"}`);
    return client.acquireTokenByCode({ code: answer.code, scopes: flow.scopes, redirectUri: flow.redirectUri,
                                       codeVerifier: pkce.verifier });
}

const results = {};
const consentPage = {};
const signingIn = app(input.web.clientId, { clientSecret: input.web.secret }, "organizations");
const daemonCert = app(input.daemon.clientId, certificateCredential(input.daemon.certificatePath));
const daemonSecret = app(input.daemon.clientId, { clientSecret: input.daemon.secret });
const api = app(input.api.clientId, { clientSecret: input.api.secret });
const web = app(input.web.clientId, { clientSecret: input.web.secret }, "organizations");
const daemonWrongSecret = app(input.daemon.clientId, { clientSecret: "not-the-daemon-secret" });

for (const [name, run] of [
    ["clientCredentialsCertificate", () => daemonCert.acquireTokenByClientCredential({ scopes: input.scopes.app })],
    // The same request again: MSAL Node answers from its cache, as with Entra.
    ["clientCredentialsCached", () => daemonCert.acquireTokenByClientCredential({ scopes: input.scopes.app })],
    ["clientCredentialsSecret", () => daemonSecret.acquireTokenByClientCredential({ scopes: input.scopes.app })],
    ["onBehalfOf", () => api.acquireTokenOnBehalfOf({ oboAssertion: input.userAssertion, scopes: input.scopes.obo })],
    ["refreshToken", () => web.acquireTokenByRefreshToken({ refreshToken: input.refreshToken, scopes: input.scopes.refresh })],
    // The same refresh token again (a retry, a second instance): Entra keeps it valid after use.
    ["refreshTokenAgain", () => web.acquireTokenByRefreshToken({ refreshToken: input.refreshToken, scopes: input.scopes.refresh,
                                                                 forceCache: false })],
    ["authCodeWithExtraScopesToConsent", () => signInWithExtraConsent(signingIn, input.authCode)],
    // A token for the extra resource, silently: the refresh token in MSAL Node's cache carries that consent.
    ["silentForTheExtraResource", async () => {
        const [account] = await signingIn.getTokenCache().getAllAccounts();
        return signingIn.acquireTokenSilent({ account, scopes: input.authCode.extraScopesToConsent });
    }],
    // Refusals: how MSAL Node reads the emulator's error bodies.
    ["clientCredentialsWrongSecret", () => daemonWrongSecret.acquireTokenByClientCredential({ scopes: input.scopes.app })],
    ["refreshTokenUnknown", () => web.acquireTokenByRefreshToken({ refreshToken: "1.emu-rt.not-issued", scopes: input.scopes.refresh })],
]) {
    const [key, value] = await attempt(name, run);
    results[key] = value;
}
results.consentPage = consentPage;
results.warnings = warnings;
process.stdout.write(JSON.stringify(results, null, 2) + "\n");

// The single-page client: @azure/msal-browser signs the user in (auth code + PKCE, a
// public client with no secret) and calls the Orders API with its own bearer tokens.
//
// Choices (README, "The single-page client"):
// * Tokens live in sessionStorage (MSAL's default, said explicitly below): they end with
//   the tab and are never written to localStorage, a cookie or the console.
// * Sign-in asks for Orders.Read only; Orders.Write is asked for when an order is placed
//   (incremental consent), and the order is placed when the browser comes back.
// * The API's claims challenge (401, error="insufficient_claims", claims="<base64>") becomes
//   an interactive request carrying those claims, as Microsoft's CAE guidance for clients says.
// * The redirect URI is this page. When it is loaded with an authorization response (in a
//   pop-up window, a hidden iframe, or after a redirect) it only hands the response to MSAL's
//   redirect bridge, which passes it to the window that asked (MSAL 5's model).
import {
  BrowserAuthError,
  BrowserCacheLocation,
  InteractionRequiredAuthError,
  PublicClientApplication,
  ServerError,
} from "@azure/msal-browser";
import { broadcastResponseToMainFrame } from "@azure/msal-browser/redirect-bridge";

const config = readConfig(document.body.dataset);


function readConfig(data) {
  const authority = `${data.authorityHost}/${data.tenant}`;
  return {
    msal: {
      auth: {
        clientId: data.clientId,
        authority,
        // The authority's host is trusted as given: no instance-discovery call to Microsoft first.
        knownAuthorities: [new URL(authority).host],
        redirectUri: `${window.location.origin}/spa/`,
        postLogoutRedirectUri: `${window.location.origin}/spa/`,
      },
      cache: { cacheLocation: BrowserCacheLocation.SessionStorage },
    },
    apiBase: (data.apiBase || window.location.origin).replace(/\/$/, ""),
    read: data.scopeRead,
    write: data.scopeWrite,
  };
}

function carriesAuthResponse(location) {
  const params = new URLSearchParams(location.hash.replace(/^#/, "") || location.search);
  return params.has("state") && (params.has("code") || params.has("error"));
}

// -- words shown to the user ---------------------------------------------------------------------

const WORDS = {
  consentDeclined: "You did not allow Contoso Orders to place orders for you, so nothing was ordered. "
    + "You can try again whenever you like.",
  signInCancelled: "Sign-in was cancelled. You are not signed in, and nothing was changed.",
  signInFailed: "Signing you in did not work. Please try again.",
  sessionExpired: "Your sign-in has expired and could not be renewed. Sign in again to continue.",
  apiDown: "The Orders service cannot be reached right now. Try again in a moment.",
  apiRefused: "The Orders service refused the request. Sign in again; if it keeps happening, contact support.",
  popupBlocked: "The browser blocked the sign-in window. Allow pop-ups for this site, or sign in on this page.",
  identityProviderDown: "Microsoft sign-in cannot be reached right now. Try again in a moment.",
};

class ShownProblem extends Error {} // already shown, or the page is leaving for sign-in
class ShownProblemWith extends Error {} // its message is the words to show
class ApiUnavailable extends Error {}

function explain(error) {
  if (error instanceof ShownProblem) return null;
  if (error instanceof ApiUnavailable) return WORDS.apiDown;
  if (error instanceof InteractionRequiredAuthError) return WORDS.sessionExpired;
  if (error instanceof ServerError && error.errorCode === "access_denied") return WORDS.signInCancelled;
  if (error instanceof BrowserAuthError) {
    if (error.errorCode === "user_cancelled") return WORDS.signInCancelled;
    if (error.errorCode === "popup_window_error" || error.errorCode === "empty_window_error") {
      return WORDS.popupBlocked;
    }
    if (error.errorCode === "no_network_connectivity" || error.errorCode === "failed_to_parse_response") {
      return WORDS.identityProviderDown;
    }
  }
  return WORDS.signInFailed;
}

// -- the page --------------------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);
let msal;
let account = null;

async function start() {
  msal = new PublicClientApplication(config.msal);
  await msal.initialize();
  let result = null;
  try {
    result = await msal.handleRedirectPromise();
  } catch (error) {
    // The round trip ended with an error: a consent the user declined is about the order, not sign-in.
    if (error instanceof ServerError && error.errorCode === "access_denied" && takePendingOrder()) {
      showProblem(WORDS.consentDeclined);
    } else {
      showProblem(explain(error));
    }
  }
  if (result?.account) msal.setActiveAccount(result.account);
  account = msal.getActiveAccount() || msal.getAllAccounts()[0] || null;
  wireButtons();
  if (!account) {
    showSignedOut();
    return;
  }
  showSignedIn();
  const pending = result ? takePendingOrder() : null;
  if (pending) {
    await placeOrder(pending); // what the user asked for before the consent round trip
  }
  await Promise.all([loadProfile(), loadOrders()]);
}

// The order being placed waits out a consent or claims round trip in this tab's sessionStorage
// (an order, never a token), and is placed once when the tab comes back with a token.
const PENDING_ORDER = "orders-spa.pending-order";

function keepPendingOrder(order) {
  if (order) sessionStorage.setItem(PENDING_ORDER, JSON.stringify(order));
}

function takePendingOrder() {
  const kept = sessionStorage.getItem(PENDING_ORDER);
  sessionStorage.removeItem(PENDING_ORDER);
  try {
    return kept ? JSON.parse(kept) : null;
  } catch {
    return null;
  }
}

function wireButtons() {
  $("sign-in").addEventListener("click", () => signIn("redirect"));
  $("sign-in-popup").addEventListener("click", () => signIn("popup"));
  $("sign-out").addEventListener("click", signOut);
  $("refresh-orders").addEventListener("click", () => run(loadOrders));
  $("order-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const order = { item: form.get("item"), quantity: Number(form.get("quantity")) };
    if (form.get("note")) order.note = form.get("note");
    run(async () => {
      await placeOrder(order);
      await loadOrders();
    });
  });
  $("problem-sign-in").addEventListener("click", () => signIn("redirect"));
}

async function run(task) {
  hideProblem();
  try {
    await task();
  } catch (error) {
    const words = explain(error);
    if (words) showProblem(words);
  }
}

async function signIn(mode) {
  hideProblem();
  const request = { scopes: [config.read], account: account || undefined, loginHint: account?.username };
  if (mode === "popup") {
    try {
      const result = await msal.loginPopup(request);
      msal.setActiveAccount(result.account);
      account = result.account;
      showSignedIn();
      await Promise.all([loadProfile(), loadOrders()]);
    } catch (error) {
      const words = explain(error);
      if (words) showProblem(words);
    }
    return;
  }
  await msal.loginRedirect(request);
}

async function signOut() {
  // Clears this tab's tokens, then ends the session at Entra, which sends the browser back here.
  await msal.logoutRedirect({ account, postLogoutRedirectUri: config.msal.auth.postLogoutRedirectUri });
}

function showSignedOut() {
  $("signed-out").hidden = false;
  $("signed-in").hidden = true;
}

function showSignedIn() {
  $("signed-out").hidden = true;
  $("signed-in").hidden = false;
  $("account-name").textContent = account.name || account.username;
  $("account-username").textContent = account.username;
}

function showProblem(words) {
  if (!words) return;
  $("problem-text").textContent = words;
  $("problem-sign-in").hidden = words !== WORDS.sessionExpired;
  $("problem").hidden = false;
}

function hideProblem() {
  $("problem").hidden = true;
}

function say(words) {
  $("status").textContent = words;
}

// -- tokens and API calls ----------------------------------------------------------------------------

/** A token for `scopes` from the cache or a silent renewal; `interactive` says what to do when that fails. */
async function token(scopes, interactive, options = {}) {
  try {
    const result = await msal.acquireTokenSilent({ scopes, account, ...options });
    return result.accessToken;
  } catch (error) {
    if (error instanceof InteractionRequiredAuthError && interactive) {
      await interactive();
      throw new ShownProblem("redirecting");
    }
    throw error;
  }
}

/**
 * Call the API; a claims challenge becomes an interactive request with those claims. When no token
 * can be had silently, placing an order goes to Entra at once (the user asked for it: consent is the
 * expected next step); a read says so in plain words and offers to sign in again.
 */
async function callApi(method, path, scopes, { body, pendingOrder, interactiveWhenNeeded = false } = {}) {
  const interactive = async (extra = {}) => {
    keepPendingOrder(pendingOrder);
    await msal.acquireTokenRedirect({ scopes, account, ...extra });
  };
  let retried = false;
  for (;;) {
    const accessToken = await token(scopes, interactiveWhenNeeded ? interactive : null,
      retried ? { forceRefresh: true } : {});
    let response;
    try {
      response = await fetch(`${config.apiBase}${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${accessToken}`,
          ...(body ? { "Content-Type": "application/json" } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
        credentials: "omit", // bearer tokens only: no cookie ever goes to the API
        cache: "no-store",
      });
    } catch {
      throw new ApiUnavailable("network");
    }
    if (response.status === 401) {
      const challenge = response.headers.get("WWW-Authenticate") || "";
      const claims = challengeClaims(challenge);
      if (claims) {
        await interactive({ claims });
        throw new ShownProblem("redirecting");
      }
      if (/error="invalid_token"/.test(challenge) && !retried) {
        retried = true; // expired or revoked at the API before MSAL thought so: renew once, then give up
        continue;
      }
      throw new ShownProblemWith(WORDS.apiRefused);
    }
    if (response.status >= 500 || response.status === 429) throw new ApiUnavailable(String(response.status));
    return response;
  }
}

/** The decoded `claims` of a Bearer challenge with error="insufficient_claims", or null. */
function challengeClaims(header) {
  if (!/error="insufficient_claims"/.test(header)) return null;
  const match = header.match(/claims="([^"]+)"/);
  if (!match) return null;
  try {
    return atob(match[1]);
  } catch {
    return null;
  }
}

async function loadOrders() {
  const response = await guarded(() => callApi("GET", "/api/orders", [config.read]));
  if (!response) return;
  const { orders } = await response.json();
  renderOrders(orders);
}

async function loadProfile() {
  const response = await guarded(() => callApi("GET", "/api/me", [config.read]));
  if (!response) return;
  if (!response.ok) {
    $("profile").textContent = "Your directory profile is not available right now.";
    return;
  }
  const profile = await response.json();
  const list = document.createElement("dl");
  list.className = "profile";
  for (const [label, value] of [["Job title", profile.jobTitle], ["Office", profile.officeLocation],
    ["E-mail", profile.mail || profile.userPrincipalName]]) {
    if (!value) continue;
    const term = document.createElement("dt");
    term.textContent = label;
    const detail = document.createElement("dd");
    detail.textContent = value;
    list.append(term, detail);
  }
  $("profile").replaceChildren(list);
}

async function placeOrder(order) {
  // Orders.Write was not asked for at sign-in: the first order asks for it (incremental consent).
  const response = await guarded(() => callApi("POST", "/api/orders", [config.write], { body: order,
    pendingOrder: order, interactiveWhenNeeded: true }));
  if (!response) return;
  if (response.status === 201) {
    const placed = await response.json();
    say(`Order placed: ${placed.quantity} × ${placed.item}`);
    $("order-form").reset();
    return;
  }
  const answer = await response.json().catch(() => ({}));
  const problems = Object.entries(answer.errors || {}).map(([field, text]) => `${field}: ${text}`);
  showProblem(`The order was not placed. ${problems.join("; ") || "Check it and try again."}`);
}

/** Run an API call; its problems are shown in plain words and it answers null. */
async function guarded(call) {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ShownProblemWith) {
      showProblem(error.message);
    } else {
      const words = explain(error);
      if (words) showProblem(words);
    }
    return null;
  }
}

function renderOrders(orders) {
  const body = $("orders-body");
  body.replaceChildren(...orders.map((order) => {
    const row = document.createElement("tr");
    for (const value of [order.item, order.quantity, order.note,
      new Date(order.created_at * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC"]) {
      const cell = document.createElement("td");
      cell.textContent = String(value ?? "");
      row.append(cell);
    }
    return row;
  }));
  $("orders").hidden = orders.length === 0;
  $("no-orders").hidden = orders.length !== 0;
}

// -- start (last: every declaration above is initialised) ---------------------------------------------

if (carriesAuthResponse(window.location)) {
  // A pop-up, the silent iframe, or the redirect's return: hand the answer on, show nothing else.
  broadcastResponseToMainFrame().catch(() => showProblem(WORDS.signInFailed));
} else {
  start().catch((error) => showProblem(explain(error)));
}

// The single-page portal of the browser tests: a public client in the citizen's browser
// (PKCE, no secret) using oidc-client-ts's browser bundle (the global `oidc`). The test
// drives it through `window.spa`; every call to the provider is a cross-origin fetch.
"use strict";

(function () {
  let config = null;
  let manager = null;

  function show(id, text) {
    document.getElementById(id).textContent = text;
  }

  async function setUp() {
    config = await (await fetch("/config.json")).json();
    manager = new oidc.UserManager({
      authority: config.issuer,
      client_id: config.client_id,
      redirect_uri: window.location.origin + "/callback",
      response_type: "code",
      scope: config.scope,
      // OIDC Core §11: the provider issues a refresh token only with prompt=consent.
      prompt: "consent",
      automaticSilentRenew: false,
    });
    if (window.location.pathname === "/callback") {
      await manager.signinCallback();
      return "signed-in";
    }
    return "ready";
  }

  async function accessToken() {
    const user = await manager.getUser();
    return user ? user.access_token : null;
  }

  // Userinfo with the bearer token in the header (a preflighted request).
  async function userinfo() {
    const resp = await fetch(config.issuer + "/userinfo", {
      headers: { Authorization: "Bearer " + (await accessToken()) },
    });
    const claims = await resp.json();
    show("name", claims.name || "");
    return { status: resp.status, claims: claims };
  }

  // signinSilent() uses the refresh token when the user has one.
  async function refresh() {
    const before = await manager.getUser();
    const after = await manager.signinSilent();
    show("state", "refreshed");
    return {
      had_refresh_token: Boolean(before.refresh_token),
      new_access_token: after.access_token !== before.access_token,
      new_refresh_token: after.refresh_token !== before.refresh_token,
      scope: after.scope,
    };
  }

  // A fetch that may be refused by the browser: its status, or the error's name.
  async function probe(url, token) {
    const headers = token ? { Authorization: "Bearer " + token } : {};
    try {
      const resp = await fetch(url, { headers: headers });
      return { status: resp.status };
    } catch (err) {
      return { error: err.name, message: String(err.message) };
    }
  }

  const ready = setUp().then(
    function (state) {
      show("state", state);
      document.body.dataset.state = state;
    },
    function (err) {
      show("error", String(err));
      document.body.dataset.state = "error";
    },
  );

  document.getElementById("signin").addEventListener("click", function () {
    manager.signinRedirect().catch(function (err) {
      show("error", String(err));
    });
  });

  window.spa = {
    ready: ready,
    accessToken: accessToken,
    userinfo: userinfo,
    refresh: refresh,
    probe: probe,
  };
})();

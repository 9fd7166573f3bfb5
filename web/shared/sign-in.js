// How a page gets its user's token, from the page's config.json `signIn`:
// - `{kind: "cognito", domain, clientId, redirectUri}` (deployed with identity=cognito): Cognito's hosted sign-in,
//   authorization code with PKCE (no client secret in a page). The ID token is kept in this tab only.
// - absent or `{kind: "token"}`: the person pastes a token (locally, or deployed with identity=external).
// Served beside every page (`web/shared/`): the local stack serves it under each page's folder, a deployment copies
// it into each page's bucket.

const PKCE_SUFFIX = '.pkce';

const base64url = (bytes) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '');

const randomText = () => base64url(crypto.getRandomValues(new Uint8Array(32)));

/** A sign-in for a page: `tokenKey` is where the token is kept (sessionStorage). */
export function createSignIn(signIn, tokenKey) {
  const hosted = signIn?.kind === 'cognito' ? signIn : undefined;
  return {
    /** whether the page signs in through Cognito (else the person pastes a token) */
    hosted: hosted !== undefined,
    token: () => sessionStorage.getItem(tokenKey),
    /** keeps a pasted token */
    keep: (token) => sessionStorage.setItem(tokenKey, token),
    /** forgets the token; with the hosted sign-in, ends the Cognito session too (it returns to the page) */
    signOut() {
      sessionStorage.removeItem(tokenKey);
      if (!hosted) return;
      const url = new URL('/logout', hosted.domain);
      url.searchParams.set('client_id', hosted.clientId);
      url.searchParams.set('logout_uri', hosted.redirectUri);
      location.assign(url);
    },
    /** sends the person to the hosted sign-in, which comes back to the page with `?code=` */
    async start() {
      const verifier = randomText();
      const state = randomText();
      sessionStorage.setItem(tokenKey + PKCE_SUFFIX, JSON.stringify({ verifier, state }));
      const challenge = base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
      const url = new URL('/oauth2/authorize', hosted.domain);
      for (const [k, v] of Object.entries({
        response_type: 'code',
        client_id: hosted.clientId,
        redirect_uri: hosted.redirectUri,
        scope: 'openid email',
        state,
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }))
        url.searchParams.set(k, v);
      location.assign(url);
    },
    /**
     * On the way back from the hosted sign-in: trades the code for tokens and keeps the ID token. Resolves with the
     * token, or undefined when the page was not opened by a sign-in; rejects with what went wrong.
     */
    async finish() {
      if (!hosted) return undefined;
      const params = new URLSearchParams(location.search);
      if (!params.has('code') && !params.has('error')) return undefined;
      // The code is single-use: take it off the address bar (and out of the history) first.
      history.replaceState(null, '', location.pathname);
      const pending = JSON.parse(sessionStorage.getItem(tokenKey + PKCE_SUFFIX) ?? 'null');
      sessionStorage.removeItem(tokenKey + PKCE_SUFFIX);
      if (params.has('error')) throw new Error(params.get('error_description') || params.get('error'));
      if (!pending || pending.state !== params.get('state')) throw new Error('the sign-in did not start here');
      const res = await fetch(new URL('/oauth2/token', hosted.domain), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          client_id: hosted.clientId,
          code: params.get('code'),
          redirect_uri: hosted.redirectUri,
          code_verifier: pending.verifier,
        }),
      });
      const body = await res.json().catch(() => ({}));
      if (!res.ok || typeof body.id_token !== 'string') {
        throw new Error(`the sign-in service refused the code (${body.error ?? res.status})`);
      }
      sessionStorage.setItem(tokenKey, body.id_token);
      return body.id_token;
    },
  };
}

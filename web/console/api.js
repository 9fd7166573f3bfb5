// The support API as the console calls it: the staff token as `Authorization: Bearer ...`, JSON both ways, and every
// refusal turned into what the person at the desk should read.

/** A refusal or failure of the support API, with what a person should read. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** One request to the support API at `apiUrl` (empty: this page's own origin); the answer's JSON, null for a 204. */
export async function callApi(apiUrl, token, method, path, body) {
  let res;
  try {
    res = await fetch(`${apiUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token ?? ''}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'NETWORK', 'Cannot reach the support API. Check your connection; retrying.');
  }
  if (res.status === 204) return null;
  let payload = null;
  try {
    payload = await res.json();
  } catch {
    payload = null;
  }
  if (res.ok) return payload;
  const code = payload?.error?.code ?? `HTTP_${res.status}`;
  const detail = payload?.error?.message ?? payload?.message ?? '';
  throw new ApiError(res.status, code, explain(res.status, detail));
}

/** What each refusal means for the person at the desk. */
function explain(status, detail) {
  switch (status) {
    case 401:
      return 'Your sign-in was not accepted: the token is missing, wrong or expired. Sign in again.';
    case 403:
      return 'This token is valid but is not a staff token: ask for support access, then sign in again.';
    case 404:
      return detail ? `Not found: ${detail}.` : 'Not found.';
    case 400:
      return detail ? `Not accepted: ${detail}.` : 'The request was not accepted.';
    case 429:
      return 'Too many requests: wait a moment and try again.';
    case 503:
      return 'The service is unavailable right now (its database does not answer). Retrying every few seconds.';
    default:
      return status >= 500
        ? `The service failed (${status}). Try again in a moment.`
        : `Unexpected answer ${status}${detail ? `: ${detail}` : ''}.`;
  }
}

export const enc = encodeURIComponent;

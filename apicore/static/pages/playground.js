// Starts GraphiQL, with its explorer plugin, on GET /graphql (graphql_gateway/graphql/
// playground.py). Its settings are the page's JSON block, as no inline script may run
// under the page's Content-Security-Policy.
//
// With authentication on (settings.auth), signing in is done once for every tab: the
// answer to any operation that selects `login { accessToken }` (the Login tab) is kept
// for this browser tab (sessionStorage), and from then on every operation of every tab,
// and the schema's introspection, sends it as `Authorization: Bearer …` (unless the
// Headers editor has an Authorization of its own). A new fetcher is handed to GraphiQL
// on each sign-in and sign-out, which makes it fetch the schema again: Docs, the
// explorer and autocompletion appear at once. Before signing in, a bar above the editor
// says what to do, and GraphiQL is given no schema rather than asking for one it would
// be refused.
"use strict";
(function () {
  const e = React.createElement;
  const settings = JSON.parse(document.getElementById("playground-settings").textContent);
  const SESSION_KEY = "sitetrack.playground.session";
  const base = GraphiQL.createFetcher({ url: new URL(settings.url, location.href).href });
  const explorer = GraphiQLPluginExplorer.explorerPlugin();

  function loadSession() {
    try {
      const session = JSON.parse(sessionStorage.getItem(SESSION_KEY));
      if (session && typeof session.token === "string" && session.expiresAt > Date.now()) {
        return session;
      }
    } catch (error) {
      // Not JSON: as if there were none.
    }
    sessionStorage.removeItem(SESSION_KEY);
    return null;
  }

  function saveSession(session) {
    if (session) {
      sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
    } else {
      sessionStorage.removeItem(SESSION_KEY);
    }
  }

  function sessionOf(result) {
    const login = result && result.data && result.data.login;
    if (!login || typeof login.accessToken !== "string") {
      return null;
    }
    const seconds = typeof login.expiresIn === "number" ? login.expiresIn : 900;
    const user = login.user || {};
    return {
      token: login.accessToken,
      expiresAt: Date.now() + seconds * 1000,
      email: typeof user.email === "string" ? user.email : null,
    };
  }

  function unauthenticated(result) {
    const errors = (result && result.errors) || [];
    return errors.some((error) => error.extensions && error.extensions.code === "UNAUTHENTICATED");
  }

  function hasAuthorization(headers) {
    return Object.keys(headers).some((name) => name.toLowerCase() === "authorization");
  }

  // Without a schema (before signing in), or when a tab runs right after its text was
  // set, GraphiQL may send the operation name of another tab ("Unknown operation named
  // 'Dashboard'"): a name the document does not have is replaced by the document's own
  // when it has one operation only (named, or anonymous). A regular
  // expression, not a parser: GraphiQL's bundle does not export graphql-js's.
  const OPERATION = /\b(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)/g;

  function withOperationName(params) {
    if (typeof params.query !== "string" || !params.operationName) {
      return params;
    }
    const text = params.query.replace(/"(?:[^"\\\n]|\\.)*"|#[^\n]*/g, " ");
    const names = Array.from(text.matchAll(OPERATION), (match) => match[1]);
    if (names.includes(params.operationName) || names.length > 1) {
      return params;
    }
    // One named operation: that one; none (an anonymous `{ … }`): no name at all.
    return Object.assign({}, params, { operationName: names.length ? names[0] : undefined });
  }

  // GraphiQL's fetcher, with the session's token, noticing sign-ins and expired tokens.
  function fetcherFor(session, onSession) {
    return function (graphiqlParams, options) {
      const params = withOperationName(graphiqlParams);
      const headers = Object.assign({}, (options && options.headers) || {});
      const sent = session && !hasAuthorization(headers);
      if (sent) {
        headers.Authorization = "Bearer " + session.token;
      }
      const result = base(params, Object.assign({}, options, { headers: headers }));
      function observe(answer) {
        const signedIn = sessionOf(answer);
        if (signedIn) {
          onSession(signedIn);
        } else if (sent && unauthenticated(answer)) {
          onSession(null, "Your sign-in has expired: run the Login tab again.");
        }
        return answer;
      }
      // GraphiQL's fetcher answers with a promise of a result, or of a stream of them
      // (one, unless the operation uses @defer or @stream), or a subscription's
      // observable: each result is looked at and passed on as it came.
      function passOn(answer) {
        if (answer && typeof answer[Symbol.asyncIterator] === "function") {
          return (async function* () {
            for await (const part of answer) {
              yield observe(part);
            }
          })();
        }
        return observe(answer);
      }
      return result && typeof result.then === "function" ? result.then(passOn) : passOn(result);
    };
  }

  function AuthBar(props) {
    if (props.session) {
      const until = new Date(props.session.expiresAt).toLocaleTimeString();
      const who = props.session.email ? "Signed in as " + props.session.email : "Signed in";
      return e(
        "div",
        { className: "sitetrack-auth sitetrack-auth-in", role: "status" },
        e("span", null, who + ": every tab sends this token, until " + until + ". "),
        e("button", { type: "button", onClick: props.onSignOut }, "Sign out"),
      );
    }
    return e(
      "div",
      { className: "sitetrack-auth sitetrack-auth-out", role: "status" },
      e(
        "span",
        null,
        (props.notice ? props.notice + " " : "") +
          "Authentication is on: open the Login tab, put your email and password in" +
          " Variables and run it (Ctrl-Enter). Every tab then sends its token, and the" +
          " schema, Docs and autocompletion appear.",
      ),
    );
  }

  function Playground() {
    const [session, setSession] = React.useState(settings.auth ? loadSession() : null);
    const [notice, setNotice] = React.useState(null);
    const onSession = React.useCallback(function (next, message) {
      saveSession(next);
      setSession(next);
      setNotice(message || null);
    }, []);
    const token = session ? session.token : null;
    const fetcher = React.useMemo(
      () => (settings.auth ? fetcherFor(session, onSession) : base),
      // A new fetcher only when the token changes: GraphiQL then fetches the schema again.
      // eslint-disable-next-line react-hooks/exhaustive-deps
      [token],
    );
    const graphiql = e(GraphiQL, {
      fetcher: fetcher,
      // Before signing in (auth on) no schema: asking for it would only be refused.
      schema: settings.auth && !session ? null : undefined,
      plugins: [explorer],
      // The example operations, one tab each, until the browser has tabs of its own;
      // a new tab opens on the hint about authentication.
      defaultTabs: settings.tabs,
      defaultQuery: settings.defaultQuery,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      inputValueDeprecation: true,
    });
    if (!settings.auth) {
      return graphiql;
    }
    return e(
      "div",
      { className: "sitetrack-page" },
      e(AuthBar, { session: session, notice: notice, onSignOut: () => onSession(null) }),
      e("div", { className: "sitetrack-ide" }, graphiql),
    );
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(e(Playground));
})();

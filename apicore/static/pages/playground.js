// Starts GraphiQL, with its explorer plugin, on GET /graphql (graphql_gateway/graphql/
// playground.py). Its settings are the page's JSON block, as no inline script may run
// under the page's Content-Security-Policy.
"use strict";
(function () {
  const settings = JSON.parse(document.getElementById("playground-settings").textContent);
  const fetcher = GraphiQL.createFetcher({ url: new URL(settings.url, location.href).href });
  const explorer = GraphiQLPluginExplorer.explorerPlugin();
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [explorer],
      // The example operations, one tab each, until the browser has tabs of its own;
      // a new tab opens on the hint about authentication.
      defaultTabs: settings.tabs,
      defaultQuery: settings.defaultQuery,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      inputValueDeprecation: true,
    }),
  );
})();

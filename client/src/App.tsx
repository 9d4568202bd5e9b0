import { Route, Router } from "@solidjs/router";
import { AppLayout } from "./components/AppLayout";
import { RequireAuth } from "./components/RequireAuth";
import { ApiTokensPage } from "./pages/ApiTokens";
import { JoinPage } from "./pages/JoinPage";
import { LoginPage } from "./pages/LoginPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { SessionPage } from "./pages/SessionPage";
import { SessionsPage } from "./pages/SessionsPage";

/**
 * The routes. Paths are real URLs (no hash): the worker serves index.html for any path that is not
 * an asset or `/api/*`, so a reload or a pasted invite link lands on the right page.
 */
export function App() {
  return (
    <Router root={AppLayout}>
      <Route path="/login" component={LoginPage} />
      <Route component={RequireAuth}>
        <Route path="/" component={SessionsPage} />
        <Route path="/join/:code" component={JoinPage} />
        <Route path="/s/:sid" component={SessionPage} />
        <Route path="/tokens" component={() => <ApiTokensPage />} />
      </Route>
      <Route path="*404" component={NotFoundPage} />
    </Router>
  );
}

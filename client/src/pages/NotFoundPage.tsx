import { A } from "@solidjs/router";
import { paths } from "../lib/paths";

export function NotFoundPage() {
  return (
    <div class="page narrow">
      <h1>Page not found</h1>
      <p>
        Nothing lives at this address. <A href={paths.home}>Back to my sessions</A>
      </p>
    </div>
  );
}

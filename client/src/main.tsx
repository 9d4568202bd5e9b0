import { render } from "solid-js/web";
import { App } from "./App";
import { loadCurrentUser } from "./lib/auth";
import "./styles.css";

const root = document.getElementById("root");
if (root === null) throw new Error("index.html has no #root element");

// Signed-in state comes from the cookie; pages render meanwhile and wait on `user()`.
loadCurrentUser().catch((error: unknown) => console.error("could not restore the signed-in user", error));

render(() => <App />, root);

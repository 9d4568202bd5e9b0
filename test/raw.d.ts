/** Text files imported whole (`import text from "../../docs/alerts.yml?raw"`), as Vite serves them. */
declare module "*?raw" {
  const text: string;
  export default text;
}

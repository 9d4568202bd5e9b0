// IndexedDB for Node: every test file gets the same global factory; tests open uniquely named databases.
import "fake-indexeddb/auto";

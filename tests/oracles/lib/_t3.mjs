import { llamaBatch, llamaUnavailable } from "./llama.mjs";
console.log("unavail", llamaUnavailable());
console.time("batch");
const r = llamaBatch(process.argv.slice(2).map(m => ({modelPath: m, jobs: [{op:"info"},{op:"generate", prompt:"And the LORD said unto Moses,", maxTokens: 10}]})));
console.timeEnd("batch");
console.log(JSON.stringify(r));

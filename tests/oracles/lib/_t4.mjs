import { llamaBatch } from "./llama.mjs";
console.log(JSON.stringify(llamaBatch([{modelPath: process.argv[2], jobs:[{op:"info"}]}]), null, 1));

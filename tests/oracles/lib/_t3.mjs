import { llamaJobs, readProbs, compareDistributions } from "./llama.mjs";
const m = process.argv[2];
for (const jobs of [[{op:"info"}], [{op:"probs", tokens: Array.from({length:300},(_, i)=> (i*37)%4000+10), out:"/tmp/hp/p.bin"}], [{op:"generate", prompt:"And the LORD said unto Moses,", maxTokens: 20}]]) {
console.time(jobs[0].op);
const r = llamaJobs(m, jobs);
console.timeEnd(jobs[0].op);
console.log(JSON.stringify(r).slice(0,300));
}

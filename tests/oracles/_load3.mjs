import {getLlama} from "node-llama-cpp";
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
for (const f of process.argv.slice(2)) {
  const model = await llama.loadModel({modelPath: f});
  const ctx = await model.createContext({contextSize: 256});
  const seq = ctx.getSequence();
  const toks = model.tokenize("And the LORD said unto Moses,");
  let out = [];
  for await (const t of seq.evaluate(toks, {temperature: 0})) { out.push(t); if (out.length >= 16) break; }
  console.log(f.split("/").pop(), JSON.stringify(model.detokenize(out)));
  await ctx.dispose(); await model.dispose();
}

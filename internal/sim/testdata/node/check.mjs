// The official OpenAI SDK streams chat, the Responses API and a tool call
// from aoaibench's simulator: node check.mjs BASE_URL KEY prints what it got as
// JSON, for TestOpenAISDK to check.
import OpenAI, { AzureOpenAI } from "openai";

const [base, key] = process.argv.slice(2);
const out = {};

// The OpenAI client against the Azure v1 routes.
const client = new OpenAI({ apiKey: key, baseURL: base + "/openai/v1", maxRetries: 0 });

const chat = await client.chat.completions.create({
  model: "gpt-4o-mini",
  messages: [{ role: "user", content: "hello world" }],
  max_tokens: 12,
  stream: true,
  stream_options: { include_usage: true },
});
out.chat = { text: "", chunks: 0, usage: null, finish: null };
for await (const chunk of chat) {
  for (const c of chunk.choices) {
    if (c.delta?.content) {
      out.chat.text += c.delta.content;
      out.chat.chunks++;
    }
    if (c.finish_reason) out.chat.finish = c.finish_reason;
  }
  if (chunk.usage) out.chat.usage = chunk.usage;
}

const resp = await client.responses.create({
  model: "gpt-4o-mini",
  input: "hello world",
  instructions: "answer at length",
  max_output_tokens: 20,
  stream: true,
});
out.responses = { text: "", deltas: 0, types: [], usage: null, status: null };
for await (const ev of resp) {
  out.responses.types.push(ev.type);
  if (ev.type === "response.output_text.delta") {
    out.responses.text += ev.delta;
    out.responses.deltas++;
  }
  if (ev.type === "response.completed" || ev.type === "response.incomplete") {
    out.responses.usage = ev.response.usage;
    out.responses.status = ev.response.status;
    out.responses.output_text = ev.response.output_text;
  }
}

// The Azure client, classic deployment routes.
const azure = new AzureOpenAI({ endpoint: base, apiKey: key, apiVersion: "2024-10-21", deployment: "gpt-4o-mini", maxRetries: 0 });
const az = await azure.chat.completions.create({
  model: "gpt-4o-mini",
  messages: [{ role: "user", content: "hello world" }],
  max_tokens: 5,
  stream: true,
  stream_options: { include_usage: true },
});
out.azure = { text: "", usage: null };
for await (const chunk of az) {
  for (const c of chunk.choices) out.azure.text += c.delta?.content ?? "";
  if (chunk.usage) out.azure.usage = chunk.usage;
}

// A tool call, streamed and assembled by the SDK's own stream helper, then
// the same function called whole: the arguments parse, with the same keys.
const tools = [{
  type: "function",
  function: {
    name: "get_order",
    description: "Get an order by its id.",
    parameters: {
      type: "object",
      properties: {
        order_id: { type: "string", description: "The order's id." },
        status: { type: "string", enum: ["open", "closed"] },
        limit: { type: "integer", minimum: 1, maximum: 10 },
      },
      required: ["order_id", "status", "limit"],
      additionalProperties: false,
    },
  },
}];
const toolAsk = {
  model: "gpt-4o-mini",
  messages: [{ role: "user", content: "where is my order?" }],
  tools,
  tool_choice: { type: "function", function: { name: "get_order" } },
};
const ts = client.chat.completions.stream({ ...toolAsk, stream_options: { include_usage: true } });
out.toolStream = { deltas: 0, doneArgs: null };
// The head chunk's empty arguments are a delta to the SDK: count the others.
ts.on("tool_calls.function.arguments.delta", (e) => { if (e.arguments_delta) out.toolStream.deltas++; });
ts.on("tool_calls.function.arguments.done", (e) => (out.toolStream.doneArgs = e.arguments));
const final = await ts.finalChatCompletion();
const call = final.choices[0].message.tool_calls[0];
out.toolStream.name = call.function.name;
out.toolStream.id = call.id;
out.toolStream.args = call.function.arguments;
out.toolStream.finish = final.choices[0].finish_reason;
out.toolStream.content = final.choices[0].message.content;
out.toolStream.usage = final.usage;
const whole = await client.chat.completions.create(toolAsk);
out.toolWhole = {
  name: whole.choices[0].message.tool_calls[0].function.name,
  args: whole.choices[0].message.tool_calls[0].function.arguments,
  finish: whole.choices[0].finish_reason,
  usage: whole.usage,
};

console.log(JSON.stringify(out));

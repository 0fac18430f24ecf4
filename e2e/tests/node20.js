// What js-libp2p 2.x expects of the runtime and Node 20 lacks: `Promise.withResolvers` (Node 22).
// Imported first by the tests that load libp2p, so it is defined before libp2p's modules run.
if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

// The exported classes of a wasm module wrapped so that every failure is a CaswebError.
//
// wasm-bindgen's generated glue throws plain Errors in two cases that casweb's own code never
// sees: a method called on an object whose free() was called ("null pointer passed to rust"),
// and an argument of the wrong class where a casweb class is expected ("expected instance of X").
// The wrapped classes translate both into a CaswebError (code `closed` for a call on a freed
// object, `invalid_argument` for a freed argument or one of the wrong class), rejected by the
// calls that return a promise and thrown by the others. A module loaded on first use (casweb/p2p)
// also gets its loading here: its async statics load it first (a module that cannot be loaded
// rejects them with `unavailable`), its other statics and constructors throw `unavailable` until
// it is loaded.

import { CaswebError } from "./error.js";

const FREED = "null pointer passed to rust";
const WRONG_CLASS = /^expected instance of (\w+)$/;

/**
 * The CaswebError for an Error thrown by the wasm-bindgen glue, or `error` itself. `self` is the
 * object the call was made on (a freed one gives `closed`; a freed argument is invalid).
 */
function translate(error, what, self) {
  if (!(error instanceof Error) || error instanceof CaswebError) return error;
  if (error.message === FREED) {
    return self?.__wbg_ptr === 0
      ? new CaswebError("closed", `${what}: the object was freed (its free() was called)`)
      : new CaswebError("invalid_argument", `${what}: an argument was already freed (its free() was called)`);
  }
  const wrongClass = WRONG_CLASS.exec(error.message);
  if (wrongClass) {
    return new CaswebError("invalid_argument", `${what}: an argument must be a ${wrongClass[1]}`);
  }
  return error;
}

/** Every member of a loaded module may be called; see `lazy` in guardClasses. */
const LOADED = { loaded: () => true };

function guarded(fn, what, isAsync, module) {
  if (isAsync && module.load) {
    return async function (...args) {
      try {
        await module.load();
      } catch (error) {
        throw new CaswebError("unavailable", `${what}: ${module.name} could not be loaded: ${error?.message ?? error}`);
      }
      try {
        return await fn.apply(this, args);
      } catch (error) {
        throw translate(error, what, this);
      }
    };
  }
  return function (...args) {
    try {
      if (!module.loaded()) throw notLoaded(what, module);
      return fn.apply(this, args);
    } catch (error) {
      const translated = translate(error, what, this);
      if (isAsync) return Promise.reject(translated);
      throw translated;
    }
  };
}

function notLoaded(what, module) {
  return new CaswebError("unavailable", `${what}: ${module.name} is not loaded yet (await ${module.init}() first)`);
}

/** Guards every method, getter and static function of `cls`; returns the guarded class. */
function guardClass(cls, name, asyncNames, module) {
  const guardMembers = (target, prefix) => {
    for (const member of Object.getOwnPropertyNames(target)) {
      if (["constructor", "prototype", "length", "name", "free", "__wrap"].includes(member)) continue;
      const descriptor = Object.getOwnPropertyDescriptor(target, member);
      const what = `${name}.${member}`;
      // Instance members exist only once the module is loaded: only statics wait for it.
      const memberModule = prefix ? module : LOADED;
      if (typeof descriptor.value === "function") {
        descriptor.value = guarded(descriptor.value, what, asyncNames.has(prefix + member), memberModule);
      } else if (descriptor.get) {
        descriptor.get = guarded(descriptor.get, what, false, memberModule);
      } else {
        continue;
      }
      Object.defineProperty(target, member, descriptor);
    }
  };
  guardMembers(cls.prototype, "");
  guardMembers(cls, "static:");
  // Constructors check their class arguments too (e.g. `new Advertiser(node)`). The proxy is the
  // class to callers: `instanceof`, statics and prototype are the class's own.
  return new Proxy(cls, {
    construct(target, args, newTarget) {
      try {
        if (!module.loaded()) throw notLoaded(`new ${name}`, module);
        return Reflect.construct(target, args, newTarget);
      } catch (error) {
        throw translate(error, `new ${name}`, undefined);
      }
    },
  });
}

/**
 * The guarded classes of `glue`, by name. `asyncMethods` lists per class the methods (and
 * `static:` functions) that return a promise. `lazy` (for a module loaded on first use):
 * `{ name, init, load, loaded }` — the module's name and its init function's name (for messages),
 * `load()` loads it (a promise), `loaded()` says whether it is.
 */
export function guardClasses(glue, asyncMethods, lazy) {
  const module = lazy ?? LOADED;
  const classes = {};
  for (const [name, asyncNames] of Object.entries(asyncMethods)) {
    if (glue[name]) classes[name] = guardClass(glue[name], name, new Set(asyncNames), module);
  }
  return classes;
}

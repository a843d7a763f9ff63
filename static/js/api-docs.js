// Renders /api/v1/openapi.json as a list of operations with their parameters, bodies and responses.
// Our own small page instead of swagger-ui: no external library, nothing from a CDN, and the CSP holds.
(function () {
  "use strict";
  var root = document.getElementById("api-docs");
  if (!root) { return; }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function resolve(spec, schema) {
    var seen = 0;
    while (schema && schema.$ref && seen < 20) {
      var parts = schema.$ref.replace(/^#\//, "").split("/");
      schema = parts.reduce(function (acc, p) { return acc ? acc[p] : undefined; }, spec);
      seen += 1;
    }
    return schema || {};
  }

  function describe(spec, schema, depth) {
    schema = resolve(spec, schema);
    if (depth > 4) { return "…"; }
    if (schema.type === "array" || (Array.isArray(schema.type) && schema.type.indexOf("array") >= 0)) {
      return "[" + describe(spec, schema.items || {}, depth + 1) + "]";
    }
    if (schema.properties) {
      var inner = Object.keys(schema.properties).map(function (k) {
        return k + ": " + describe(spec, schema.properties[k], depth + 1);
      });
      return "{" + inner.join(", ") + "}";
    }
    var type = Array.isArray(schema.type) ? schema.type.join("|") : (schema.type || "object");
    if (schema["enum"]) { type += " (" + schema["enum"].join("/") + ")"; }
    return type;
  }

  function operation(spec, path, method, op) {
    var box = el("div", {"class": "card mb-3 api-operation"}, []);
    var head = el("div", {"class": "card-header"}, [
      el("span", {"class": "badge text-bg-secondary me-2"}, [method.toUpperCase()]),
      el("code", {}, [path])
    ]);
    if (op.security && op.security.length) { head.appendChild(el("span", {"class": "badge text-bg-warning ms-2"}, ["需要令牌"])); }
    box.appendChild(head);
    var body = el("div", {"class": "card-body"}, []);
    if (op.summary || op.description) { body.appendChild(el("p", {}, [op.summary || op.description])); }
    var params = (op.parameters || []).map(function (p) { return resolve(spec, p); });
    if (params.length) {
      var list = el("ul", {"class": "small"}, []);
      params.forEach(function (p) {
        var text = p.name + "（" + p["in"] + (p.required ? "，必填" : "") + "）：" + describe(spec, p.schema || {}, 0);
        if (p.description) { text += " — " + p.description; }
        list.appendChild(el("li", {}, [text]));
      });
      body.appendChild(el("div", {"class": "fw-semibold small"}, ["参数"]));
      body.appendChild(list);
    }
    if (op.requestBody) {
      var content = resolve(spec, op.requestBody).content || {};
      Object.keys(content).forEach(function (type) {
        body.appendChild(el("div", {"class": "fw-semibold small"}, ["请求体（" + type + "）"]));
        body.appendChild(el("pre", {"class": "small text-wrap"}, [describe(spec, content[type].schema || {}, 0)]));
      });
    }
    var responses = op.responses || {};
    body.appendChild(el("div", {"class": "fw-semibold small"}, ["响应"]));
    var rl = el("ul", {"class": "small"}, []);
    Object.keys(responses).forEach(function (code) {
      var r = resolve(spec, responses[code]);
      var types = Object.keys(r.content || {});
      var shape = types.length ? "：" + types[0] + " " + describe(spec, r.content[types[0]].schema || {}, 0) : "";
      rl.appendChild(el("li", {}, [code + " " + (r.description || "") + shape]));
    });
    body.appendChild(rl);
    box.appendChild(body);
    return box;
  }

  fetch(root.getAttribute("data-spec"), {headers: {"Accept": "application/json"}})
    .then(function (r) { return r.json(); })
    .then(function (spec) {
      root.textContent = "";
      root.appendChild(el("p", {"class": "text-muted"}, [(spec.info && spec.info.description) || ""]));
      Object.keys(spec.paths || {}).sort().forEach(function (path) {
        var item = spec.paths[path];
        ["get", "post", "put", "patch", "delete"].forEach(function (m) {
          if (item[m]) { root.appendChild(operation(spec, path, m, item[m])); }
        });
      });
    })
    .catch(function () { root.textContent = "接口文档加载失败，请直接打开 /api/v1/openapi.json。"; });
}());

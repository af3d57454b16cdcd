/** The dashboard's stylesheet, inlined into the page. */
export const STYLE = `
body{font:14px system-ui,sans-serif;margin:0;background:#0f1419;color:#e6e6e6}
header{padding:10px 16px;background:#1a2029;display:flex;gap:16px;align-items:baseline;flex-wrap:wrap}
h1{font-size:18px;margin:0}
h2{font-size:13px;margin:0 0 8px;color:#9fb3c8;text-transform:uppercase;letter-spacing:.05em}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:12px;padding:12px}
section{background:#1a2029;border-radius:6px;padding:12px;overflow:auto;max-height:380px}
section.wide{grid-column:1/-1}
table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:2px 6px;border-bottom:1px solid #2a323d;white-space:nowrap}
.gantt{display:block;width:220px;height:8px;background:#1a2029}.gantt span{display:block;height:8px;background:#56ccf2}
th{color:#9fb3c8;font-weight:normal}
tr.pick{cursor:pointer}tr.pick:hover{background:#232b36}
button,input,select{background:#0f1419;color:#e6e6e6;border:1px solid #3a4452;border-radius:4px;padding:2px 8px}
button{cursor:pointer}
form{display:flex;gap:6px;margin-bottom:8px}
.healthy,.up,.completed,.closed,.live{color:#6fcf97}
.degraded,.suspect,.half_open,.waiting,.sleeping,.running,.retrying,.pending,.paused,.draining{color:#f2c94c}
.unhealthy,.down,.failed,.open,.dead,.cancelled,.error{color:#eb5757}
.figures span{margin-right:14px}.figures b{font-size:18px}
#events{font:12px monospace;white-space:pre-wrap}
#login{position:fixed;inset:0;background:#000c;display:flex;align-items:center;justify-content:center}
#login[hidden]{display:none}
#login form{background:#1a2029;padding:20px;border-radius:6px;flex-direction:column;min-width:320px}
svg{width:100%;height:60px;background:#0f1419}
`;

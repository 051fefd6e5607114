"""Interactive figures for the one-file HTML report (Plotly, inlined once, no network).

The report (:mod:`ftgeo.report.html`) keeps every PNG (for papers) and, after a result's PNGs, adds
:func:`block`: a placeholder ``<div class="ftgeo-ix">`` and the data the figure needs as a JSON
``<script>`` (never code per figure). :func:`with_bundle` then puts plotly.js (from the ``plotly``
package, ``plotly.offline.get_plotlyjs()``) and the small script below into the page's ``<head>`` once,
so the file opens with no network and no CDN. Without ``plotly`` installed (the ``report`` extra) the
report is the same PNGs with one line saying how to get the interactive figures.

What each kind gets (the data are read from the saved result only, as everything in the report):

- ``projection``: the 2-D points of one layer and method, a layer / method selector, colour by gold
  label or by correctness (where predictions were saved); hover: the sentence, gold label, prediction
  and example id. At most :data:`MAX_POINTS` points (a seeded subsample, said in the figure).
- ``cka``: each pair's layer x layer heat map (hover: both layers, CKA and its interval); a click on a
  cell shows the two layers' projections side by side, where a ``projection`` result of those sets and
  layers is in the same report, else the two layers' CKA rows from the saved result, saying so.
- ``rogue``: the variance share of every dimension (spikes) of a chosen layer, a bar per set;
  hover: dimension, mean, variance, share of variance.
- ``dynamics``: each measure over checkpoints, a line per layer (hover: step, value, interval), and the
  label centroids' paths with a checkpoint slider.
"""
from __future__ import annotations

import html
import json
import math
import re
from typing import Any, Callable

import numpy as np

#: most points one projection figure carries (a seeded random subsample above this, said in the figure)
MAX_POINTS = 3000
#: the one line a report gets when ``plotly`` is not installed
MISSING_NOTE = ("Interactive figures are off: the <code>plotly</code> package is not installed "
                "(<code>pip install 'ftgeo[report]'</code>, then <code>ftgeo report --run RUN</code> again).")
_MISSING_MARK = "<!--ftgeo-interactive-missing-->"
_IX_CLASS = 'class="ftgeo-ix"'


def available() -> bool:
    """Whether ``plotly`` (the ``report`` extra), whose plotly.js the report inlines, is importable."""
    try:
        import plotly.offline  # noqa: F401
    except ImportError:
        return False
    return True


def block(run, name: str, res) -> str:
    """The interactive figure of result ``res`` (saved as ``name``): a placeholder div and its data, to
    follow the result's PNG figures; "" for kinds without one. Never raises: a result whose data do not
    fit gets one line saying why, the PNGs stay."""
    build = BUILDERS.get(getattr(res, "kind", ""))
    if build is None:
        return ""
    if not available():
        return _MISSING_MARK
    try:
        data = build(res)
    except Exception as exc:  # noqa: BLE001 - a figure must not break the report
        return f"<p class=meta>No interactive figure for {html.escape(name)}: {html.escape(str(exc) or type(exc).__name__)}</p>"
    if data is None:
        return ""
    data["name"] = name
    uid = "ix-" + re.sub(r"[^A-Za-z0-9_-]", "_", name)
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    return (f'<div {_IX_CLASS} id="{uid}" data-kind="{html.escape(res.kind)}">'
            f'<p class=meta>Interactive figure (hover for values)</p></div>'
            f'<script type="application/json" id="{uid}-data">{payload}</script>')


def with_bundle(page: str) -> str:
    """``page`` with plotly.js and the report's figure script in its ``<head>`` once, if any block needs
    them; with the one-line note instead where ``plotly`` is missing."""
    if _MISSING_MARK in page:
        page = page.replace(_MISSING_MARK, "")
        note = f"<p class=warn>{MISSING_NOTE}</p>"
        at = page.find("</h1>")
        page = page[:at + 5] + note + page[at + 5:] if at >= 0 else page.replace("<body>", "<body>" + note, 1)
    if _IX_CLASS not in page or "</head>" not in page:
        return page
    from plotly.offline import get_plotlyjs
    head = (f"<style>{_CSS}</style><script>{get_plotlyjs()}</script><script>{_JS}</script>")
    return page.replace("</head>", head + "</head>", 1)


# ----------------------------------------------------------------------------- data per kind
def _num(v, digits: int = 5):
    """A float for JSON: rounded to ``digits`` significant digits, None for NaN / inf / missing."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(f):
        return None
    return float(f"{f:.{digits}g}")


def _nums(values, digits: int = 5) -> list:
    return [_num(v, digits) for v in np.asarray(values, dtype=object).ravel()]


def _wrap(text: str, width: int = 60, limit: int = 400) -> str:
    """A hover label's text: HTML-escaped (Plotly reads a few tags), cut at ``limit`` characters and
    broken into lines of about ``width`` characters with ``<br>``."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    lines, cur = [], ""
    for w in text.split(" "):
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}" if cur else w
    lines.append(cur)
    return "<br>".join(html.escape(x, quote=False) for x in lines)


def projection_data(res) -> dict[str, Any]:
    """The points of a projection result: one row per example (id, gold label, text, prediction) and
    each (method, layer)'s coordinates in the same order; a seeded subsample above :data:`MAX_POINTS`."""
    c = res.table("coords")
    label_names = (c.drop_duplicates("label").sort_values("label").set_index("label")["label_name"]
                   .astype(str).to_dict())
    key = "index" if "index" in c.columns else "id"
    first = c.drop_duplicates(key).sort_values(key)
    n = len(first)
    if n > MAX_POINTS:
        keep = np.sort(np.random.default_rng(0).choice(n, MAX_POINTS, replace=False))
        first = first.iloc[keep]
    order = first[key].to_numpy()
    pos = {k: i for i, k in enumerate(order)}
    labels = sorted(int(v) for v in c["label"].unique())
    has_text = "text" in c.columns and first["text"].fillna("").astype(str).str.len().gt(0).any()
    has_pred = "prediction" in c.columns and (first["prediction"].fillna(-1).astype(int) >= 0).any()
    coords: dict[str, dict[str, list]] = {}
    for (m, layer), g in c.groupby(["method", "layer"], sort=True):
        g = g[g[key].isin(pos)]
        x = np.full(len(order), np.nan)
        y = np.full(len(order), np.nan)
        at = np.fromiter((pos[k] for k in g[key]), dtype=np.int64, count=len(g))
        x[at], y[at] = g["x"].to_numpy(float), g["y"].to_numpy(float)
        coords.setdefault(str(m), {})[str(int(layer))] = [_nums(x, 4), _nums(y, 4)]
    points = {"id": first["id"].astype(str).tolist() if "id" in first.columns else [str(k) for k in order],
              "label": first["label"].astype(int).tolist(),
              "text": [_wrap(t) for t in first["text"].fillna("").astype(str)] if has_text else None,
              "pred": first["prediction"].fillna(-1).astype(int).tolist() if has_pred else None}
    methods = res.meta.get("methods") or sorted(coords)
    return {"kind": "projection", "set": res.meta.get("set"), "methods": [m for m in methods if m in coords],
            "layers": sorted({int(v) for v in c["layer"].unique()}),
            "label_names": {str(k): label_names.get(k, str(k)) for k in labels},
            "n": int(n), "shown": len(order), "points": points,
            "notes": ([] if has_text else ["the sentences were not saved with this projection: hover shows the "
                                          "example id (ftgeo studies save them; run_projection(..., texts=...))"])
                     + ([] if has_pred else ["no predictions were saved: colour by correctness is off"])
                     + ([f"showing {len(order)} of {n} points (a seeded random subsample); the PNG shows all"]
                        if n > len(order) else []),
            "coords": coords}


def cka_data(res) -> dict[str, Any]:
    """Each pair's matrix, interval and hover text, with the layer numbers of both sets."""
    t = res.table("cka")
    pairs = []
    for pair, g in t.groupby("pair", sort=False):
        a, b = str(g["set_a"].iloc[0]), str(g["set_b"].iloc[0])
        la = sorted(int(v) for v in g["layer_a"].unique())
        lb = sorted(int(v) for v in g["layer_b"].unique())
        def grid(col):                    # results saved before the intervals existed have no cka_low / _high
            if col not in g.columns:
                return np.full((len(la), len(lb)), np.nan)
            return (g.pivot_table(index="layer_a", columns="layer_b", values=col, aggfunc="first", dropna=False)
                    .reindex(index=la, columns=lb).to_numpy(float))

        z, lo, hi = grid("cka"), grid("cka_low"), grid("cka_high")
        text = []
        for i, l1 in enumerate(la):
            row = []
            for j, l2 in enumerate(lb):
                v = z[i, j]
                s = f"{html.escape(a)} layer {l1} × {html.escape(b)} layer {l2}<br>"
                if not np.isfinite(v):
                    s += "CKA undefined (a constant layer or 0/0; see the notes)"
                else:
                    s += f"CKA {v:.3f}"
                    if np.isfinite(lo[i, j]) and np.isfinite(hi[i, j]):
                        s += f" [{lo[i, j]:.3f}, {hi[i, j]:.3f}]"
                row.append(s)
            text.append(row)
        pairs.append({"pair": str(pair), "a": a, "b": b, "la": la, "lb": lb,
                      "z": [_nums(r, 4) for r in z], "text": text})
    level = res.meta.get("ci_level")
    return {"kind": "cka", "pairs": pairs, "ci_level": _num(level, 3) if level is not None else None}


def rogue_data(res) -> dict[str, Any]:
    """Every dimension's mean, variance and share of variance, per set and layer."""
    d = res.table("dims")
    out: dict[str, dict[str, dict[str, list]]] = {}
    for (s, layer), g in d.groupby(["set", "layer"], sort=False):
        g = g.sort_values("dim")
        out.setdefault(str(s), {})[str(int(layer))] = {
            "dim": g["dim"].astype(int).tolist(), "mean": _nums(g["mean"], 4), "var": _nums(g["var"], 4),
            "share": _nums(g["var_share"], 4) if "var_share" in g else _nums(g["var"] / g["var"].sum(), 4)}
    sets = [str(s) for s in (res.meta.get("sets") or list(out)) if str(s) in out]
    return {"kind": "rogue", "sets": sets,
            "layers": sorted({int(v) for v in d["layer"].unique()}), "dims": out}


def dynamics_data(res) -> dict[str, Any]:
    """The per-checkpoint measures per layer and the label centroids' paths."""
    def xcol(df):
        if "step" in df.columns and df["step"].notna().all():
            return df["step"].astype(float)
        return df["checkpoint"].astype(float)

    measures: dict[str, dict[str, Any]] = {}
    specs = [("similarity", "similarity", "similarity to the pretrained space"),
             ("clusters", "n_clusters", "number of DirectProbe clusters")]
    for table, col, title in specs:
        if table not in res.tables:
            continue
        t = res.table(table)
        if col not in t.columns or t[col].isna().all():
            continue
        per = {}
        for layer, g in t.groupby("layer", sort=True):
            g = g.sort_values("checkpoint")
            per[str(int(layer))] = {"x": _nums(xcol(g)), "y": _nums(g[col], 4),
                                    "lo": _nums(g[col + "_low"], 4) if col + "_low" in g else None,
                                    "hi": _nums(g[col + "_high"], 4) if col + "_high" in g else None}
        measures[col] = {"title": title, "layers": per}
    if "min_distance" in res.tables:
        md = res.table("min_distance")
        if not md.empty and not md["min_distance"].isna().all():
            per = {}
            for layer, g in md.groupby("layer", sort=True):
                m = g.groupby("checkpoint").agg(min_distance=("min_distance", "mean"), step=("step", "first"))
                m = m.reset_index().sort_values("checkpoint")
                per[str(int(layer))] = {"x": _nums(xcol(m)), "y": _nums(m["min_distance"], 4), "lo": None,
                                        "hi": None}
            measures["mean_min_distance"] = {"title": "mean over labels of the minimum distance", "layers": per}
    paths: dict[str, dict[str, Any]] = {}
    if "centroid_paths" in res.tables:
        cp = res.table("centroid_paths")
        for layer, g in cp.groupby("layer", sort=True):
            per = {}
            for label, h in g.groupby("label", sort=True):
                h = h.sort_values("checkpoint")
                per[str(label)] = {"x": _nums(h["pc1"], 4), "y": _nums(h["pc2"], 4),
                                   "ckpt": h["checkpoint"].astype(int).tolist(), "step": _nums(xcol(h))}
            paths[str(int(layer))] = per
    ck = res.table("checkpoints") if "checkpoints" in res.tables else None
    checkpoints = []
    if ck is not None:
        for _, r in ck.sort_values("checkpoint").iterrows():
            step = r.get("step")
            checkpoints.append({"checkpoint": int(r["checkpoint"]), "name": str(r.get("name", "")),
                                "step": None if step is None or (isinstance(step, float) and math.isnan(step))
                                or str(step) == "<NA>" else int(step)})
    x_title = "step" if all(c["step"] is not None for c in checkpoints) and checkpoints else "checkpoint"
    if not measures and not paths:
        return None
    return {"kind": "dynamics", "measures": measures, "paths": paths, "checkpoints": checkpoints, "x_title": x_title}


#: result kind -> the function that turns a saved result into its figure's data
BUILDERS: dict[str, Callable[[Any], dict | None]] = {
    "projection": projection_data, "cka": cka_data, "rogue": rogue_data, "dynamics": dynamics_data}


# ----------------------------------------------------------------------------- the page's script
_CSS = """
.ftgeo-ix{border:1px solid #e3e8ee;border-radius:4px;padding:.4rem .6rem;margin:.2rem 0 1.5rem}
.ftgeo-ix .ctl{font-size:.8rem;margin:.2rem 0} .ftgeo-ix .ctl label{margin-right:1rem}
.ftgeo-ix .note{font-size:.78rem;color:#8a5a00;margin:.1rem 0} .ftgeo-ix .ix-plot{width:100%;height:430px}
.ftgeo-ix .side{display:flex;gap:.5rem} .ftgeo-ix .side>div{flex:1;min-width:0}
.ftgeo-ix .panel-title{font-size:.85rem;margin:.3rem 0}
"""

# One script for every figure: it reads each placeholder's JSON and draws it with Plotly.
_JS = r"""
(function(){
'use strict';
var PAL=['#1f77b4','#ff7f0e','#2ca02c','#d62728','#9467bd','#8c564b','#e377c2','#7f7f7f','#bcbd22','#17becf'];
var CFG={displaylogo:false,responsive:true};
var reg={projection:[],cka:[]};
window.ftgeoReport=reg;
function el(tag,cls,parent,text){var e=document.createElement(tag);if(cls)e.className=cls;if(text!=null)e.textContent=text;if(parent)parent.appendChild(e);return e;}
function select(parent,label,options,value,onchange){
  var l=el('label',null,parent,label+' ');var s=el('select',null,l);
  options.forEach(function(o){var op=el('option',null,s,o[1]);op.value=o[0];if(String(o[0])===String(value))op.selected=true;});
  s.addEventListener('change',function(){onchange(s.value);});return s;}
function slider(parent,label,n,value,onchange){
  var l=el('label',null,parent,label+' ');var s=el('input',null,l);s.type='range';s.min=0;s.max=n-1;s.step=1;s.value=value;
  var out=el('span',null,l);s.addEventListener('input',function(){onchange(+s.value,out);});return [s,out];}
function notes(parent,list){(list||[]).forEach(function(t){el('p','note',parent,t);});}
function base(title,xt,yt){return {title:{text:title,font:{size:13}},margin:{l:50,r:10,t:36,b:40},hovermode:'closest',
  xaxis:{title:{text:xt||''},zeroline:false},yaxis:{title:{text:yt||''},zeroline:false},legend:{font:{size:10}}};}

// ------------------------------------------------ projection
function projTraces(d,method,layer,colour,size){
  var xy=(d.coords[method]||{})[String(layer)];if(!xy)return null;
  var P=d.points,n=P.label.length,groups=[];
  if(colour==='correct'&&P.pred){
    var g={ok:[],bad:[],unk:[]};
    for(var i=0;i<n;i++){if(P.pred[i]<0)g.unk.push(i);else if(P.pred[i]===P.label[i])g.ok.push(i);else g.bad.push(i);}
    groups=[['correct',g.ok,'#2ca02c'],['wrong',g.bad,'#d62728'],['no prediction',g.unk,'#999']];
  }else{
    var keys=Object.keys(d.label_names).map(Number).sort(function(a,b){return a-b;});
    keys.forEach(function(k,j){var idx=[];for(var i=0;i<n;i++)if(P.label[i]===k)idx.push(i);groups.push([d.label_names[k],idx,PAL[j%10]]);});
  }
  var nm=function(k){return k>=0&&d.label_names[k]!=null?d.label_names[k]:'-';};
  return groups.filter(function(g){return g[1].length;}).map(function(g){
    var idx=g[1];
    return {type:'scatter',mode:'markers',name:g[0],x:idx.map(function(i){return xy[0][i];}),y:idx.map(function(i){return xy[1][i];}),
      marker:{size:size||6,color:g[2],opacity:.8},
      customdata:idx.map(function(i){return [P.text?P.text[i]:'(sentence not saved)',nm(P.label[i]),P.pred?nm(P.pred[i]):'not saved',P.id[i]];}),
      hovertemplate:'%{customdata[0]}<br><b>gold</b>: %{customdata[1]} · <b>predicted</b>: %{customdata[2]}<br>id: %{customdata[3]}<extra></extra>'};
  });
}
function projection(root,d){
  reg.projection.push(d);
  var st={method:d.methods[0],layer:d.layers[d.layers.length-1],colour:'label'};
  var ctl=el('div','ctl',root);notes(root,d.notes);var plot=el('div','ix-plot',root);
  if(d.methods.length>1)select(ctl,'method',d.methods.map(function(m){return [m,m];}),st.method,function(v){st.method=v;draw();});
  var ls=select(ctl,'layer',d.layers.map(function(l){return [l,'layer '+l];}),st.layer,function(v){st.layer=+v;draw();});
  var sl=slider(ctl,'',d.layers.length,d.layers.length-1,function(i){st.layer=d.layers[i];draw();});
  var col=[['label','gold label']];if(d.points.pred)col.push(['correct','correct / wrong']);
  select(ctl,'colour by',col,'label',function(v){st.colour=v;draw();});
  function draw(){
    var tr=projTraces(d,st.method,st.layer,st.colour)||[];
    var lay=base(st.method+' projection'+(d.set?' of '+d.set:'')+', layer '+st.layer+' ('+d.shown+' points)');
    lay.xaxis.showticklabels=false;lay.yaxis.showticklabels=false;
    ls.value=String(st.layer);
    sl[0].value=d.layers.indexOf(st.layer);
    Plotly.react(plot,tr,lay,CFG);}
  draw();
}
function findProjection(set,layer){
  var hit=null;
  reg.projection.forEach(function(p){if(hit)return;if(p.set===set&&p.layers.indexOf(layer)>=0)hit=p;});
  return hit;}

// ------------------------------------------------ cka
function cka(root,d){
  reg.cka.push(d);
  d.pairs.forEach(function(p){
    var box=el('div',null,root);
    var hm=el('div','ix-plot',box);
    var panel=el('div','ckapanel',box);
    el('p','panel-title',panel,'Click a cell to see the two layers side by side.');
    var side=el('div','side',panel),left=el('div',null,side),right=el('div',null,side);
    var trace={type:'heatmap',z:p.z,x:p.lb.map(String),y:p.la.map(String),text:p.text,hovertemplate:'%{text}<extra></extra>',
      colorscale:'Viridis',zmin:0,zmax:1,colorbar:{title:{text:'CKA'}},hoverongaps:true};
    var lay=base('CKA '+p.a+' × '+p.b+' (click a cell)',p.b+' layer',p.a+' layer');
    lay.xaxis.type='category';lay.yaxis.type='category';lay.height=430;
    Plotly.newPlot(hm,[trace],lay,CFG);
    hm.on('plotly_click',function(ev){
      var pt=ev.points[0];if(!pt)return;show(+pt.y,+pt.x);});
    function show(la,lb){
      var i=p.la.indexOf(la),j=p.lb.indexOf(lb),v=p.z[i][j];
      panel.querySelector('.panel-title').textContent=p.a+' layer '+la+' (left) and '+p.b+' layer '+lb+' (right): CKA '+(v==null?'undefined':v.toFixed(3));
      side1(left,p.a,la,function(){return {x:p.lb,y:p.z[i],t:'CKA of '+p.a+' layer '+la+' with each '+p.b+' layer',xt:p.b+' layer'};});
      side1(right,p.b,lb,function(){return {x:p.la,y:p.z.map(function(r){return r[j];}),t:'CKA of '+p.b+' layer '+lb+' with each '+p.a+' layer',xt:p.a+' layer'};});
      Plotly.relayout(hm,{shapes:[{type:'rect',xref:'x',yref:'y',x0:j-0.5,x1:j+0.5,y0:i-0.5,y1:i+0.5,
        line:{color:'#e6194b',width:3}}]});       // the selected cell
      box.setAttribute('data-selected',la+','+lb);
    }
  });
}
function side1(div,set,layer,row){
  div.innerHTML='';
  var pr=findProjection(set,layer);
  var plot=el('div','ix-plot',div);plot.style.height='320px';
  if(pr){
    var m=pr.methods[0];
    var lay=base(m+' of '+set+', layer '+layer);lay.showlegend=false;lay.xaxis.showticklabels=false;lay.yaxis.showticklabels=false;
    Plotly.newPlot(plot,projTraces(pr,m,layer,'label',4),lay,CFG);
  }else{
    el('p','note',div,'No projection of '+set+' layer '+layer+' is saved in this report (ftgeo analyze projection --layers '+layer+'); showing its CKA row from the saved result instead.');
    div.appendChild(plot);
    var r=row();
    Plotly.newPlot(plot,[{type:'scatter',mode:'lines+markers',x:r.x,y:r.y,name:'CKA',hovertemplate:r.xt+' %{x}: CKA %{y:.3f}<extra></extra>'}],
      base(r.t,r.xt,'CKA'),CFG);
  }
}

// ------------------------------------------------ rogue
function rogue(root,d){
  var st={layer:d.layers[d.layers.length-1],y:'share'};
  var ctl=el('div','ctl',root);var plot=el('div','ix-plot',root);
  select(ctl,'layer',d.layers.map(function(l){return [l,'layer '+l];}),st.layer,function(v){st.layer=+v;draw();});
  select(ctl,'height',[['share','share of variance'],['var','variance'],['mean','mean']],'share',function(v){st.y=v;draw();});
  function draw(){
    var tr=[];
    d.sets.forEach(function(s,k){var q=(d.dims[s]||{})[String(st.layer)];if(!q)return;
      tr.push({type:'bar',name:s,x:q.dim,y:q[st.y],marker:{color:PAL[k%10]},
        customdata:q.dim.map(function(_,i){return [q.mean[i],q['var'][i],q.share[i]];}),
        hovertemplate:s+'<br>dimension %{x}<br>mean %{customdata[0]:.4g}<br>variance %{customdata[1]:.4g}<br>share of variance %{customdata[2]:.3f}<extra></extra>'});});
    var lay=base('dimensions of layer '+st.layer+' (rogue dimensions are the spikes)','dimension',
      {share:'share of variance',var:'variance',mean:'mean'}[st.y]);lay.barmode='group';lay.bargap=0;
    Plotly.react(plot,tr,lay,CFG);}
  draw();
}

// ------------------------------------------------ dynamics
function dynamics(root,d){
  var keys=Object.keys(d.measures);
  if(keys.length){
    var st={m:keys[0]};var ctl=el('div','ctl',root);var plot=el('div','ix-plot',root);
    select(ctl,'measure',keys.map(function(k){return [k,d.measures[k].title];}),st.m,function(v){st.m=v;draw();});
    function draw(){
      var M=d.measures[st.m],tr=[];
      Object.keys(M.layers).sort(function(a,b){return a-b;}).forEach(function(l,k){var q=M.layers[l];
        tr.push({type:'scatter',mode:'lines+markers',name:'layer '+l,x:q.x,y:q.y,line:{color:PAL[k%10]},
          customdata:q.x.map(function(_,i){return [q.lo?q.lo[i]:null,q.hi?q.hi[i]:null];}),
          hovertemplate:'layer '+l+'<br>'+d.x_title+' %{x}<br>'+st.m+' %{y:.4g}'+(q.lo?'<br>interval [%{customdata[0]:.3g}, %{customdata[1]:.3g}]':'')+'<extra></extra>'});});
      Plotly.react(plot,tr,base(M.title+' over fine-tuning',d.x_title,st.m),CFG);}
    draw();
  }
  var layers=Object.keys(d.paths);
  if(layers.length){
    var ck=d.checkpoints.length?d.checkpoints:null;
    var st2={layer:layers[layers.length-1],c:null};
    var ctl2=el('div','ctl',root);var plot2=el('div','ix-plot',root);
    select(ctl2,'layer',layers.map(function(l){return [l,'layer '+l];}),st2.layer,function(v){st2.layer=v;draw2();});
    var all=[];layers.forEach(function(l){Object.keys(d.paths[l]).forEach(function(b){d.paths[l][b].ckpt.forEach(function(c){if(all.indexOf(c)<0)all.push(c);});});});
    all.sort(function(a,b){return a-b;});st2.c=all[all.length-1];
    var sl=slider(ctl2,'checkpoint',all.length,all.length-1,function(i,out){st2.c=all[i];draw2();});
    function draw2(){
      var P=d.paths[st2.layer]||{},tr=[];
      Object.keys(P).forEach(function(lab,k){var q=P[lab],n=0;while(n<q.ckpt.length&&q.ckpt[n]<=st2.c)n++;
        var cd=q.ckpt.slice(0,n).map(function(c,i){return [c,q.step[i]];});
        tr.push({type:'scatter',mode:'lines+markers',name:lab,x:q.x.slice(0,n),y:q.y.slice(0,n),line:{color:PAL[k%10]},
          marker:{size:q.x.slice(0,n).map(function(_,i){return i===n-1?11:5;})},customdata:cd,
          hovertemplate:'label '+lab+'<br>checkpoint %{customdata[0]} ('+d.x_title+' %{customdata[1]})<br>pc1 %{x:.3g}, pc2 %{y:.3g}<extra></extra>'});});
      var name='';if(ck){ck.forEach(function(c){if(c.checkpoint===st2.c)name=c.name+(c.step!=null?' (step '+c.step+')':'');});}
      sl[1].textContent=' '+(name||st2.c);
      var lay=base('label centroids of layer '+st2.layer+' up to checkpoint '+(name||st2.c),'pc1','pc2');
      var xs=[],ys=[];Object.keys(P).forEach(function(lab){xs=xs.concat(P[lab].x);ys=ys.concat(P[lab].y);});
      var rng=function(v){v=v.filter(function(a){return a!=null;});if(!v.length)return undefined;
        var lo=Math.min.apply(null,v),hi=Math.max.apply(null,v),pad=(hi-lo)*0.08||1;return [lo-pad,hi+pad];};
      lay.xaxis.range=rng(xs);lay.yaxis.range=rng(ys);   // the whole path's extent: the slider does not rescale
      Plotly.react(plot2,tr,lay,CFG);}
    draw2();
  }
}

var KINDS={projection:projection,cka:cka,rogue:rogue,dynamics:dynamics};
function start(){
  if(!window.Plotly)return;
  // projections first: a CKA panel looks them up
  var roots=Array.prototype.slice.call(document.querySelectorAll('div.ftgeo-ix'));
  roots.sort(function(a,b){return (a.getAttribute('data-kind')==='projection'?0:1)-(b.getAttribute('data-kind')==='projection'?0:1);});
  roots.forEach(function(root){
    var src=document.getElementById(root.id+'-data');if(!src)return;
    var d=JSON.parse(src.textContent),f=KINDS[d.kind];if(!f)return;
    root.innerHTML='';el('p','meta',root,'Interactive: hover for values'+(d.kind==='cka'?'; click a cell':''));
    try{f(root,d);}catch(e){el('p','note',root,'interactive figure failed: '+e);console.error(e);}
  });
}
if(document.readyState==='loading')document.addEventListener('DOMContentLoaded',start);else start();
})();
"""

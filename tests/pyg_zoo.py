"""Builds every layer of ``torch_geometric.nn`` with small arguments.

A helper for the layer tests: :data:`CASES` maps a class name to a
:class:`Case` that constructs the layer (8 input channels, 16 output
channels where it applies) and runs its forward pass on the tiny graph of
:func:`graph`, returning one tensor. :data:`SKIPPED` names the layers that
cannot run here, with the missing optional package.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Dict, List, Tuple

import torch
import torch_geometric.nn as pyg
import torch_geometric.typing
from torch import Tensor
from torch.nn import Linear, ReLU, Sequential
from torch_geometric.data import Batch, Data
from torch_geometric.utils import degree, scatter

IN, OUT, N, E = 8, 16, 10, 30
EdgeType = Tuple[str, str, str]
META: Tuple[List[str], List[EdgeType]] = (
    ['a', 'b'], [('a', 'to', 'b'), ('b', 'to', 'a'), ('a', 'links', 'a')])


@dataclass
class G:
    """The inputs every case draws from (one small batch of two graphs)."""

    x: Tensor  # [N, 8]
    x_int: Tensor  # [N] long, for WLConv
    edge_index: Tensor  # [2, E], two graphs of 5 nodes, no self-loops
    edge_attr: Tensor  # [E, 3]
    edge_type: Tensor  # [E] in [0, 3)
    edge_weight: Tensor  # [E] positive
    pos: Tensor  # [N, 3]
    normal: Tensor  # [N, 3] unit vectors
    batch: Tensor  # [N]: nodes 0..4 -> 0, 5..9 -> 1
    y: Tensor  # [N] labels in [0, 3)
    mask: Tensor  # [N] bool
    node_type: Tensor  # [N] in [0, 3)
    pos_edge_index: Tensor  # the even-numbered edges
    neg_edge_index: Tensor  # the odd-numbered edges
    hyperedge_index: Tensor  # [2, 16]: node -> one of 4 hyperedges
    hyperedge_weight: Tensor  # [4]
    hyperedge_attr: Tensor  # [4, 8]
    mesh_x: Tensor  # [12, 8] mesh-edge features (MeshCNNConv)
    mesh_edge_index: Tensor  # [2, 48]: 4 neighbours per mesh edge
    x_dict: Dict[str, Tensor]  # 'a': [6, 8], 'b': [4, 8]
    edge_index_dict: Dict[EdgeType, Tensor]
    num_nodes: int = N
    metadata: Tuple[List[str], List[EdgeType]] = field(
        default_factory=lambda: META)


def graph(seed: int = 0) -> G:
    """A deterministic random graph; it never touches the global RNG."""
    gen = torch.Generator().manual_seed(seed)

    def rand(*size: int) -> Tensor:
        return torch.randn(*size, generator=gen)

    def randint(high: int, *size: int) -> Tensor:
        return torch.randint(0, high, size, generator=gen)

    # Per graph of 5 nodes: a ring both ways (10 edges) + 5 random chords.
    ring = torch.arange(5)
    ei = []
    for off in (0, 5):
        pairs = {(int(i), int((i + 1) % 5)) for i in ring}
        pairs |= {(b, a) for a, b in pairs}
        rest = [(i, j) for i in range(5) for j in range(5)
                if i != j and (i, j) not in pairs]
        pick = torch.randperm(len(rest), generator=gen)[:5].tolist()
        pairs |= {rest[k] for k in pick}
        ei.append(torch.tensor(sorted(pairs)).t() + off)
    edge_index = torch.cat(ei, 1)
    num_edges = edge_index.size(1)
    normal = rand(N, 3)
    hyper = torch.stack([torch.arange(16) % N, randint(4, 16)])
    hyper[1, :4] = torch.arange(4)  # every hyperedge is used
    mesh_row = torch.arange(12).repeat_interleave(4)
    x_dict = {'a': rand(6, IN), 'b': rand(4, IN)}
    sizes = {'a': 6, 'b': 4}
    ei_dict = {
        et: torch.stack([randint(sizes[et[0]], 8), randint(sizes[et[2]], 8)])
        for et in META[1]
    }
    x = rand(N, IN)
    return G(
        x=x, x_int=randint(3, N), edge_index=edge_index,
        edge_attr=rand(num_edges, 3), edge_type=randint(3, num_edges),
        edge_weight=torch.rand(num_edges, generator=gen) + 0.5,
        pos=rand(N, 3), normal=normal / normal.norm(dim=-1, keepdim=True),
        batch=torch.arange(N) // 5, y=randint(3, N),
        mask=torch.arange(N) % 2 == 0, node_type=randint(3, N),
        pos_edge_index=edge_index[:, 0::2],
        neg_edge_index=edge_index[:, 1::2], hyperedge_index=hyper,
        hyperedge_weight=torch.rand(4, generator=gen) + 0.5,
        hyperedge_attr=rand(4, IN), mesh_x=rand(12, IN),
        mesh_edge_index=torch.stack([mesh_row, randint(12, 48)]),
        x_dict=x_dict, edge_index_dict=ei_dict)


Forward = Callable[[torch.nn.Module, G], Tensor]


@dataclass
class Case:
    """How to build one layer and run it on a :class:`G`."""

    build: Callable[[], torch.nn.Module]
    forward: Forward
    float_output: bool = True  # False: the output is integer (WLConv)
    train_mode_only: bool = False
    note: str = ''


def _flat(out: Any) -> Tensor:
    """Every float tensor in a nested output, flattened into one vector."""
    found: List[Tensor] = []

    def walk(o: Any) -> None:
        if isinstance(o, Tensor):
            if o.is_floating_point():
                found.append(o.reshape(-1))
        elif isinstance(o, (tuple, list)):
            for v in o:
                walk(v)
        elif isinstance(o, dict):
            for v in o.values():
                walk(v)
        elif hasattr(o, 'storage') and hasattr(o.storage, 'value'):
            walk(o.storage.value())  # torch_sparse.SparseTensor

    walk(out)
    return torch.cat(found)


def _c(build: Callable[[], torch.nn.Module], *keys: str,
       **kw: Any) -> Case:
    """A case that calls ``module(*[getattr(g, k) for k in keys])``."""
    return Case(build, lambda m, g: _flat(m(*(getattr(g, k) for k in keys))),
                **kw)


XE = ('x', 'edge_index')
XEW = XE + ('edge_weight', )
XEA = XE + ('edge_attr', )
XET = XE + ('edge_type', )
HET = ('x_dict', 'edge_index_dict')


def _mlp(*ch: int) -> Sequential:
    """A Linear-ReLU stack with the given channel sizes."""
    layers: List[torch.nn.Module] = []
    for i, (a, b) in enumerate(zip(ch[:-1], ch[1:])):
        layers += [ReLU()] if i else []
        layers.append(Linear(a, b))
    return Sequential(*layers)


@lru_cache(maxsize=None)
def _deg() -> Tensor:
    """The in-degree histogram of :func:`graph` (for PNA)."""
    g = graph()
    return torch.bincount(
        degree(g.edge_index[1], g.num_nodes, dtype=torch.long))


PNA_KW: Dict[str, Any] = dict(
    aggregators=['mean', 'min', 'max', 'std'],
    scalers=['identity', 'amplification', 'attenuation'])


class _EdgeModel(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = Linear(2 * IN + 3, 3)

    def forward(self, src: Tensor, dst: Tensor, edge_attr: Tensor,
                u: Any, batch: Any) -> Tensor:
        return self.lin(torch.cat([src, dst, edge_attr], -1))


class _NodeModel(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = Linear(IN + 3, OUT)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor,
                u: Any, batch: Any) -> Tensor:
        agg = scatter(edge_attr, edge_index[1], 0, x.size(0), 'mean')
        return self.lin(torch.cat([x, agg], -1))


class _VEncoder(torch.nn.Module):
    """A variational encoder returning ``(mu, logstd)``."""

    def __init__(self) -> None:
        super().__init__()
        self.mu = pyg.GCNConv(IN, OUT)
        self.logstd = pyg.GCNConv(IN, OUT)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tuple[Tensor, Tensor]:
        return self.mu(x, edge_index), self.logstd(x, edge_index)


def _gae(m: torch.nn.Module, g: G) -> Tensor:
    """GAE / VGAE / ARGA / ARGVA: encode, decode, plus their extras."""
    z = m.encode(g.x, g.edge_index)
    outs = [z, m.decode(z, g.edge_index)]
    if hasattr(m, 'kl_loss') and hasattr(m, '__mu__'):
        outs.append(m.kl_loss())
    if hasattr(m, 'discriminator'):
        outs.append(m.discriminator(z))
    return _flat(outs)


def _dgi() -> torch.nn.Module:
    return pyg.DeepGraphInfomax(
        OUT, pyg.GCNConv(IN, OUT),
        summary=lambda z, *args, **kwargs: z.mean(0).sigmoid(),
        corruption=lambda x, ei: (x.flip(0), ei))


def _dgi_forward(m: torch.nn.Module, g: G) -> Tensor:
    pos_z, neg_z, s = m(g.x, g.edge_index)
    return _flat([pos_z, neg_z, s, m.loss(pos_z, neg_z, s)])


def _schnet() -> torch.nn.Module:
    def interaction_graph(pos: Tensor,
                          batch: Tensor) -> Tuple[Tensor, Tensor]:
        # All pairs within a graph: SchNet's default radius_graph needs
        # pyg-lib.
        adj = (batch[:, None] == batch[None, :]).fill_diagonal_(False)
        ei = adj.nonzero().t()
        return ei, (pos[ei[0]] - pos[ei[1]]).norm(dim=-1)

    return pyg.SchNet(hidden_channels=OUT, num_filters=OUT,
                      num_interactions=2, num_gaussians=10, cutoff=5.0,
                      interaction_graph=interaction_graph)


def _tgn() -> torch.nn.Module:
    from torch_geometric.nn.models.tgn import (IdentityMessage,
                                               LastAggregator)
    return pyg.TGNMemory(N, 3, IN, 4, IdentityMessage(3, IN, 4),
                         LastAggregator())


def _tgn_forward(m: torch.nn.Module, g: G) -> Tensor:
    m.detach()  # as a TGN training loop does after each backward
    m.reset_state()
    src, dst = g.edge_index
    t = torch.arange(src.numel())
    m.update_state(src, dst, t, g.edge_attr)
    memory, _ = m(torch.arange(N))
    return memory.reshape(-1)


def _gpse() -> torch.nn.Module:
    return pyg.GPSE(dim_in=IN, dim_out=4, dim_inner=OUT, layers_mp=2,
                    num_node_targets=4, num_graph_targets=2,
                    multi_head_dim_inner=8, virtual_node=False)


def _gpse_forward(m: torch.nn.Module, g: G) -> Tensor:
    data = Batch.from_data_list([
        Data(x=g.x[g.batch == i], edge_index=g.edge_index[
            :, g.batch[g.edge_index[0]] == i] - 5 * i,
             y=torch.zeros(5, 4), y_graph=torch.zeros(1, 2))
        for i in (0, 1)])
    return m(data)[0]  # (prediction, target): the target is the labels


def _pan_pool_forward(m: torch.nn.Module, g: G) -> Tensor:
    from torch_sparse import SparseTensor
    row, col = g.edge_index
    M = SparseTensor(row=row, col=col, value=g.edge_weight,
                     sparse_sizes=(N, N))
    return _flat(m(g.x, M, g.batch))


def _super_gat_forward(m: torch.nn.Module, g: G) -> Tensor:
    out = m(g.x, g.edge_index)
    return _flat([out, m.get_attention_loss()] if m.training else out)


@lru_cache(maxsize=4)
def _events(triples: Tuple[Tuple[int, int, int], ...]) -> Batch:
    """RENet's history batch for (sub, rel, obj) events, 6 per step."""
    pre = pyg.RENet.pre_transform(2)
    return Batch.from_data_list([
        pre(Data(sub=torch.tensor(s), rel=torch.tensor(r),
                 obj=torch.tensor(o), t=torch.tensor(i // 6)))
        for i, (s, r, o) in enumerate(triples)
    ], follow_batch=['h_sub', 'h_obj'])


def _renet_forward(m: torch.nn.Module, g: G) -> Tensor:
    """RENet on the edges as events (sub, rel=edge_type, obj)."""
    triples = torch.stack([g.edge_index[0], g.edge_type, g.edge_index[1]])
    return _flat(m(_events(tuple(map(tuple, triples.t().tolist())))))


def _correct_and_smooth(m: torch.nn.Module, g: G) -> Tensor:
    """CorrectAndSmooth has no forward: run ``correct`` then ``smooth``."""
    y_soft = g.x[:, :3].softmax(-1)
    y_soft = m.correct(y_soft, g.y[g.mask], g.mask, g.edge_index)
    return m.smooth(y_soft, g.y[g.mask], g.mask, g.edge_index)


def _polynormer() -> torch.nn.Module:
    """Polynormer past its local warm-up, so the global attention runs."""
    m = pyg.Polynormer(IN, OUT, OUT, local_layers=2, global_layers=1)
    m._global = True
    return m


def _hetero_conv() -> torch.nn.Module:
    return pyg.HeteroConv({
        META[1][0]: pyg.SAGEConv(IN, OUT),
        META[1][1]: pyg.GATConv((IN, IN), OUT, add_self_loops=False),
        META[1][2]: pyg.GCNConv(IN, OUT),
    }, aggr='sum')


def _lpformer_forward(m: torch.nn.Module, g: G) -> Tensor:
    ppr = torch.rand(N, N, generator=torch.Generator().manual_seed(1))
    return _flat(m(g.edge_index[:, :8], g.x, g.edge_index,
                   ppr.to_sparse()))


def _two(x: Tensor) -> List[Tensor]:
    return [x, x.tanh()]


CONV: Dict[str, Case] = {
    'SimpleConv': _c(lambda: pyg.SimpleConv('mean', 'cat'), *XEW),
    'GCNConv': _c(lambda: pyg.GCNConv(IN, OUT), *XEW),
    'ChebConv': _c(lambda: pyg.ChebConv(IN, OUT, K=3), *XEW),
    'SAGEConv': _c(lambda: pyg.SAGEConv(IN, OUT), *XE),
    'GraphConv': _c(lambda: pyg.GraphConv(IN, OUT), *XEW),
    'GatedGraphConv': _c(lambda: pyg.GatedGraphConv(OUT, 3), *XEW),
    'ResGatedGraphConv':
    _c(lambda: pyg.ResGatedGraphConv(IN, OUT, edge_dim=3), *XEA),
    'GATConv': _c(lambda: pyg.GATConv(IN, OUT, heads=2, edge_dim=3), *XEA),
    'GATv2Conv':
    _c(lambda: pyg.GATv2Conv(IN, OUT, heads=2, edge_dim=3), *XEA),
    'TransformerConv':
    _c(lambda: pyg.TransformerConv(IN, OUT, heads=2, edge_dim=3), *XEA),
    'AGNNConv': _c(lambda: pyg.AGNNConv(), *XE),
    'TAGConv': _c(lambda: pyg.TAGConv(IN, OUT, K=2), *XEW),
    'GINConv': _c(lambda: pyg.GINConv(_mlp(IN, OUT, OUT), train_eps=True),
                  *XE),
    'GINEConv': _c(lambda: pyg.GINEConv(_mlp(IN, OUT, OUT), edge_dim=3),
                   *XEA),
    'ARMAConv': _c(lambda: pyg.ARMAConv(IN, OUT, num_stacks=2,
                                        num_layers=2), *XEW),
    'SGConv': _c(lambda: pyg.SGConv(IN, OUT, K=2), *XEW),
    'SSGConv': _c(lambda: pyg.SSGConv(IN, OUT, alpha=0.1, K=2), *XEW),
    'APPNP': _c(lambda: pyg.APPNP(K=3, alpha=0.1), *XEW),
    'MFConv': _c(lambda: pyg.MFConv(IN, OUT), *XE),
    'RGCNConv': _c(lambda: pyg.RGCNConv(IN, OUT, 3, num_bases=2), *XET),
    'FastRGCNConv':
    _c(lambda: pyg.FastRGCNConv(IN, OUT, 3, num_bases=2), *XET),
    'RGATConv': _c(lambda: pyg.RGATConv(IN, OUT, 3, edge_dim=3),
                   *XET, 'edge_attr'),
    'SignedConv': _c(lambda: pyg.SignedConv(IN, OUT, first_aggr=True), 'x',
                     'pos_edge_index', 'neg_edge_index'),
    'DNAConv': Case(lambda: pyg.DNAConv(IN, heads=2, groups=2),
                    lambda m, g: m(torch.stack(_two(g.x), 1), g.edge_index,
                                   g.edge_weight)),
    'PointNetConv': _c(lambda: pyg.PointNetConv(_mlp(IN + 3, OUT, OUT),
                                                _mlp(OUT, OUT)),
                       'x', 'pos', 'edge_index'),
    'GMMConv': _c(lambda: pyg.GMMConv(IN, OUT, dim=3, kernel_size=4),
                  *XEA),
    'NNConv': _c(lambda: pyg.NNConv(IN, OUT, _mlp(3, IN * OUT),
                                    aggr='mean'), *XEA),
    'CGConv': _c(lambda: pyg.CGConv(IN, dim=3), *XEA),
    'EdgeConv': _c(lambda: pyg.EdgeConv(_mlp(2 * IN, OUT, OUT)), *XE),
    'PPFConv': _c(lambda: pyg.PPFConv(_mlp(IN + 4, OUT, OUT),
                                      _mlp(OUT, OUT)),
                  'x', 'pos', 'normal', 'edge_index'),
    'FeaStConv': _c(lambda: pyg.FeaStConv(IN, OUT, heads=2), *XE),
    'PointTransformerConv': _c(lambda: pyg.PointTransformerConv(IN, OUT),
                               'x', 'pos', 'edge_index'),
    'HypergraphConv': _c(
        lambda: pyg.HypergraphConv(IN, OUT, use_attention=True, heads=2),
        'x', 'hyperedge_index', 'hyperedge_weight', 'hyperedge_attr'),
    'LEConv': _c(lambda: pyg.LEConv(IN, OUT), *XEW),
    'PNAConv': _c(lambda: pyg.PNAConv(IN, OUT, deg=_deg(), edge_dim=3,
                                      towers=2, **PNA_KW), *XEA),
    'ClusterGCNConv':
    _c(lambda: pyg.ClusterGCNConv(IN, OUT, diag_lambda=1.0), *XE),
    'GENConv': _c(lambda: pyg.GENConv(IN, OUT, learn_t=True, edge_dim=3),
                  *XEA),
    'GCN2Conv': Case(lambda: pyg.GCN2Conv(IN, 0.2, theta=0.5, layer=1),
                     lambda m, g: m(g.x, g.x, g.edge_index, g.edge_weight)),
    'PANConv': _c(lambda: pyg.PANConv(IN, OUT, filter_size=2), *XE),
    'WLConv': Case(lambda: pyg.WLConv(),
                   lambda m, g: m(g.x_int, g.edge_index), float_output=False),
    'WLConvContinuous': _c(lambda: pyg.WLConvContinuous(), *XEW),
    'FiLMConv': _c(lambda: pyg.FiLMConv(IN, OUT, num_relations=3), *XET),
    'SuperGATConv': Case(lambda: pyg.SuperGATConv(IN, OUT, heads=2),
                         _super_gat_forward),
    'FAConv': Case(lambda: pyg.FAConv(IN, eps=1.0),
                   lambda m, g: m(g.x, g.x, g.edge_index)),
    'EGConv': _c(lambda: pyg.EGConv(IN, OUT, ['symnorm', 'max'],
                                    num_heads=2, num_bases=2), *XE),
    'PDNConv': _c(lambda: pyg.PDNConv(IN, OUT, edge_dim=3,
                                      hidden_channels=8), *XEA),
    'GeneralConv': _c(lambda: pyg.GeneralConv(
        IN, OUT, in_edge_channels=3, attention=True, heads=2), *XEA),
    'HGTConv': _c(lambda: pyg.HGTConv(IN, OUT, META, heads=2), *HET),
    'HEATConv': _c(lambda: pyg.HEATConv(
        IN, OUT, num_node_types=3, num_edge_types=3, edge_type_emb_dim=5,
        edge_dim=3, edge_attr_emb_dim=6, heads=2),
        'x', 'edge_index', 'node_type', 'edge_type', 'edge_attr'),
    'HeteroConv': _c(_hetero_conv, *HET),
    'HANConv': _c(lambda: pyg.HANConv(IN, OUT, META, heads=2), *HET),
    'LGConv': _c(lambda: pyg.LGConv(), *XEW),
    'PointGNNConv': _c(lambda: pyg.PointGNNConv(
        _mlp(IN, OUT, 3), _mlp(IN + 3, OUT, IN), _mlp(IN, OUT, IN)),
        'x', 'pos', 'edge_index'),
    'GPSConv': _c(lambda: pyg.GPSConv(IN, pyg.GINConv(_mlp(IN, OUT, IN)),
                                      heads=2), *XE, 'batch'),
    'AntiSymmetricConv': _c(lambda: pyg.AntiSymmetricConv(IN), *XE),
    'DirGNNConv': _c(lambda: pyg.DirGNNConv(pyg.GCNConv(IN, OUT)), *XE),
    'MixHopConv': _c(lambda: pyg.MixHopConv(IN, OUT, powers=[0, 1, 2]),
                     *XEW),
    'MeshCNNConv': _c(lambda: pyg.MeshCNNConv(IN, OUT), 'mesh_x',
                      'mesh_edge_index'),
}

MODELS: Dict[str, Case] = {
    'MLP': _c(lambda: pyg.MLP([IN, OUT, OUT]), 'x'),
    'GCN': _c(lambda: pyg.GCN(IN, OUT, 2), *XEW),
    'GraphSAGE': _c(lambda: pyg.GraphSAGE(IN, OUT, 2), *XE),
    'GIN': _c(lambda: pyg.GIN(IN, OUT, 2), *XE),
    'GAT': Case(lambda: pyg.GAT(IN, OUT, 2, heads=2, edge_dim=3),
                lambda m, g: m(g.x, g.edge_index, edge_attr=g.edge_attr)),
    'PNA': _c(lambda: pyg.PNA(IN, OUT, 2, deg=_deg(), **PNA_KW), *XE),
    'EdgeCNN': _c(lambda: pyg.EdgeCNN(IN, OUT, 2), *XE),
    'JumpingKnowledge': Case(
        lambda: pyg.JumpingKnowledge('lstm', channels=IN, num_layers=2),
        lambda m, g: m(_two(g.x))),
    'HeteroJumpingKnowledge': Case(
        lambda: pyg.HeteroJumpingKnowledge(['a', 'b'], 'lstm', IN, 2),
        lambda m, g: _flat(m({k: _two(v) for k, v in g.x_dict.items()}))),
    'MetaLayer': _c(lambda: pyg.MetaLayer(_EdgeModel(), _NodeModel()),
                    *XEA),
    'MetaPath2Vec': Case(
        lambda: pyg.MetaPath2Vec(graph().edge_index_dict, 8, META[1][:2],
                                 walk_length=4, context_size=2,
                                 num_nodes_dict={'a': 6, 'b': 4}),
        lambda m, g: m('a', torch.arange(6))),
    'DeepGraphInfomax': Case(_dgi, _dgi_forward),
    'InnerProductDecoder': _c(lambda: pyg.InnerProductDecoder(), *XE),
    'GAE': Case(lambda: pyg.GAE(pyg.GCNConv(IN, OUT)), _gae),
    'VGAE': Case(lambda: pyg.VGAE(_VEncoder()), _gae),
    'ARGA': Case(lambda: pyg.ARGA(pyg.GCNConv(IN, OUT), _mlp(OUT, OUT, 1)),
                 _gae),
    'ARGVA': Case(lambda: pyg.ARGVA(_VEncoder(), _mlp(OUT, OUT, 1)), _gae),
    'SignedGCN': _c(lambda: pyg.SignedGCN(IN, OUT, num_layers=2, lamb=5),
                    'x', 'pos_edge_index', 'neg_edge_index'),
    'GraphUNet': _c(lambda: pyg.GraphUNet(IN, OUT, OUT, depth=2), *XE,
                    'batch'),
    'SchNet': Case(_schnet, lambda m, g: m(g.x_int, g.pos, g.batch),
                   note='custom interaction_graph (no radius_graph)'),
    'GPSE': Case(_gpse, _gpse_forward),
    'GPSENodeEncoder': Case(
        lambda: pyg.GPSENodeEncoder(OUT, 4, 8, IN, expand_x=True),
        lambda m, g: m(g.x, g.x[:, :4])),
    'RENet': Case(lambda: pyg.RENet(N, 3, IN, seq_len=2), _renet_forward),
    'CorrectAndSmooth': Case(lambda: pyg.CorrectAndSmooth(2, 0.8, 2, 0.8),
                             _correct_and_smooth),
    'DeepGCNLayer': _c(lambda: pyg.DeepGCNLayer(
        pyg.GENConv(IN, IN), torch.nn.LayerNorm(IN), ReLU(), block='res+',
        dropout=0.1), *XE),
    'TGNMemory': Case(_tgn, _tgn_forward),
    'LabelPropagation': _c(lambda: pyg.LabelPropagation(2, 0.9), 'y',
                           'edge_index', 'mask'),
    'AttentiveFP': _c(lambda: pyg.AttentiveFP(IN, OUT, OUT, edge_dim=3,
                                              num_layers=2,
                                              num_timesteps=2),
                      *XEA, 'batch'),
    'RECT_L': _c(lambda: pyg.RECT_L(IN, OUT), *XEW),
    'LINKX': _c(lambda: pyg.LINKX(N, IN, OUT, OUT, num_layers=2), *XEW),
    'LightGCN': _c(lambda: pyg.LightGCN(N, IN, num_layers=2), 'edge_index'),
    'MaskLabel': _c(lambda: pyg.MaskLabel(3, IN), 'x', 'y', 'mask'),
    'GroupAddRev': Case(  # it frees its input's storage: pass a copy
        lambda: pyg.GroupAddRev(pyg.GCNConv(IN // 2, IN // 2), num_groups=2),
        lambda m, g: m(g.x.clone(), g.edge_index)),
    'PMLP': _c(lambda: pyg.PMLP(IN, OUT, OUT, num_layers=2), *XE),
    'NeuralFingerprint': _c(lambda: pyg.NeuralFingerprint(IN, OUT, OUT, 2),
                            *XE, 'batch'),
    'LPFormer': Case(lambda: pyg.LPFormer(IN, OUT), _lpformer_forward),
    'SGFormer': _c(lambda: pyg.SGFormer(IN, OUT, OUT), *XE, 'batch'),
    'Polynormer': _c(_polynormer, *XE, 'batch'),
    'ARLinkPredictor': _c(lambda: pyg.ARLinkPredictor(IN, OUT), *XE),
}

POOL: Dict[str, Case] = {
    'TopKPooling': _c(lambda: pyg.TopKPooling(IN, ratio=0.5), *XEA,
                      'batch'),
    'SAGPooling': Case(lambda: pyg.SAGPooling(IN, ratio=0.5),
                       lambda m, g: _flat(m(g.x, g.edge_index,
                                            batch=g.batch))),
    'EdgePooling': _c(lambda: pyg.EdgePooling(IN), *XE, 'batch'),
    'ClusterPooling': _c(lambda: pyg.ClusterPooling(IN), *XE, 'batch'),
    'ASAPooling': Case(  # backward through the pooled edge weights hits a
        # sparse-sparse matmul without autograd support: use x only
        lambda: pyg.ASAPooling(IN, ratio=0.5),
        lambda m, g: m(g.x, g.edge_index, g.edge_weight, g.batch)[0]),
    'PANPooling': Case(lambda: pyg.PANPooling(IN, ratio=0.5),
                       _pan_pool_forward),
    'MemPooling': _c(lambda: pyg.MemPooling(IN, OUT, heads=2,
                                            num_clusters=2), 'x', 'batch'),
}

CASES: Dict[str, Case] = {**CONV, **MODELS, **POOL}

PYG_LIB = "needs pyg-lib>=0.6 ({})"
SKIPPED: Dict[str, str] = {
    'CuGraphSAGEConv': 'needs pylibcugraphops (cuGraph)',
    'CuGraphGATConv': 'needs pylibcugraphops (cuGraph)',
    'CuGraphRGCNConv': 'needs pylibcugraphops (cuGraph)',
    'FusedGATConv': 'needs dgNN',
    'GravNetConv': PYG_LIB.format('torch.ops.pyg.knn'),
    'DynamicEdgeConv': PYG_LIB.format('torch.ops.pyg.knn'),
    'XConv': PYG_LIB.format('torch.ops.pyg.knn'),
    'SplineConv': PYG_LIB.format('spline basis ops'),
    'Node2Vec': PYG_LIB.format('random walks'),
    'DimeNet': PYG_LIB.format('radius_graph'),
    'DimeNetPlusPlus': PYG_LIB.format('radius_graph'),
    'GNNFF': PYG_LIB.format('radius_graph'),
    'ViSNet': PYG_LIB.format('radius_graph'),
}
# Layers that build a SparseTensor run where the optional torch-sparse
# is installed (CI installs it: scripts/test.sh) and are skipped elsewhere.
if not torch_geometric.typing.WITH_TORCH_SPARSE:
    SKIPPED.update({name: "needs torch-sparse (SparseTensor)"
                    for name in ("PANConv", "PANPooling")})

"""ReCLIP's learnable Reference prompt (Sec. 3.2) on the tiny random CLIP."""
import open_clip
import pytest
import torch
import torch.nn.functional as F

from maskclip.clip import load_clip
from maskclip.text.embeddings import encode_text
from reclip.models.reference_prompt import ReferencePrompt

TINY_VIT = 'tiny-ViT-16-test'
CLIP = dict(model_name=TINY_VIT, pretrained=None)
NAMES = ['cat', 'traffic light', 'potted plant', 'motorbike',
         'chest of drawers next to a very large wooden kitchen cabinet']


def test_injected_context_equals_encode_text():
    prefix = 'a photo of a'
    ref = ReferencePrompt(NAMES, CLIP, context_length=4, init='random')
    ref.set_context_from_text(prefix)
    w_r = ref()
    model = load_clip(**CLIP)
    tokenizer = open_clip.get_tokenizer(TINY_VIT)
    tokens = tokenizer([f'{prefix} {name}' for name in NAMES])
    with torch.no_grad():
        expected = F.normalize(model.encode_text(tokens), dim=-1)
        fast = F.normalize(encode_text(model, tokens), dim=-1)
    assert w_r.shape == (len(NAMES), expected.shape[1])
    torch.testing.assert_close(w_r.detach(), expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(w_r.detach(), fast, atol=1e-5, rtol=0)
    assert torch.allclose(w_r.norm(dim=-1), torch.ones(len(NAMES)))
    # the EOT positions differ with the names' token lengths
    assert ref.eot_index.tolist() == (tokens.argmax(dim=-1)).tolist()
    assert len(set(ref.eot_index.tolist())) > 1


def test_authors_matrix_normalisation_of_w_r():
    """norm='matrix' (dogehhh/ReCLIP@99b64d7 model.py:356-357, ``prompt / prompt.norm()``): the
    raw text features divided by the Frobenius norm of the whole K x C matrix."""
    prefix = 'a photo of a'
    ref = ReferencePrompt(NAMES, CLIP, context_length=4, init='random')
    ref.set_context_from_text(prefix)
    model = load_clip(**CLIP)
    tokens = open_clip.get_tokenizer(TINY_VIT)([f'{prefix} {name}' for name in NAMES])
    with torch.no_grad():
        raw = model.encode_text(tokens)
        w_r = ref('matrix')
    torch.testing.assert_close(w_r, raw / raw.norm(), atol=1e-6, rtol=1e-4)
    assert torch.isclose(w_r.pow(2).sum(), torch.tensor(1.0))
    rows = w_r.norm(dim=-1)
    assert not torch.allclose(rows, rows[0].expand_as(rows))  # rows keep their relative lengths
    assert rows.mean() == pytest.approx(len(NAMES) ** -0.5, rel=0.2)
    with pytest.raises(ValueError, match="'row' or 'matrix'"):
        ref('frobenius')


def test_only_context_is_trained():
    ref = ReferencePrompt(NAMES[:4], CLIP)
    trainable = [name for name, p in ref.named_parameters() if p.requires_grad]
    assert trainable == ['context']
    before = {name: p.detach().clone() for name, p in ref.named_parameters() if name != 'context'}
    ctx_before = ref.context.detach().clone()
    optimizer = torch.optim.SGD([ref.context], lr=0.1)
    ref().sum().backward()
    assert ref.context.grad is not None and ref.context.grad.abs().sum() > 0
    for name, p in ref.named_parameters():
        if name != 'context':
            assert p.grad is None and not p.requires_grad, name
    optimizer.step()
    assert not torch.equal(ref.context.detach(), ctx_before)
    for name, p in ref.named_parameters():
        if name != 'context':
            assert torch.equal(p.detach(), before[name]), name
    # the shared cached CLIP is untouched as well
    assert all(not p.requires_grad for p in load_clip(**CLIP).parameters())


def test_frozen_tower_stays_in_eval_mode():
    ref = ReferencePrompt(['cat'], CLIP, context_length=8)
    ref.train()
    assert ref.training
    assert all(not m.training for module in ref.frozen_modules() for m in module.modules())


def test_default_context_fills_77_tokens():
    ref = ReferencePrompt(['cat', 'dog', 'person, people'], CLIP)
    assert ref.class_names == ('cat', 'dog', 'person')  # first synonym only
    assert ref.context_length == 73
    assert ref.context.shape == (73, 32)
    assert ref.eot_index.tolist() == [75, 75, 75]  # SOT + 73 + 1 name token -> EOT at 75
    assert ref.token_ids.shape == (3, 77)
    assert ref().shape == (3, 32)
    # two-token names still fit the paper's 73 (EOT at 76)
    assert ReferencePrompt(['traffic light'], CLIP).eot_index.tolist() == [76]
    # longer names: the default shrinks L so that SOT + L + name + EOT = 77
    long_name = 'chest of drawers'
    n = len(open_clip.get_tokenizer(TINY_VIT).encode(long_name))
    ref = ReferencePrompt(['cat', long_name], CLIP)
    assert ref.context_length == 75 - n
    assert ref.eot_index.tolist() == [1 + 75 - n + 1, 76]


def test_init_from_token_embedding():
    ref = ReferencePrompt(['cat'], CLIP, context_length=5, init='X')
    x_id = open_clip.get_tokenizer(TINY_VIT).encode('X')[0]
    assert torch.equal(ref.context.detach(), ref.token_embedding.weight[x_id].expand(5, -1))
    ref = ReferencePrompt(['cat'], CLIP, context_length=6)  # 'a photo of a' repeated
    ids = open_clip.get_tokenizer(TINY_VIT).encode('a photo of a a photo')
    assert torch.equal(ref.context.detach(), ref.token_embedding.weight[torch.tensor(ids)])


def test_name_too_long_raises():
    with pytest.raises(ValueError, match='traffic light') as info:
        ReferencePrompt(['cat', 'traffic light'], CLIP, context_length=74)
    assert 'context_length <= 73' in str(info.value)
    ref = ReferencePrompt(['cat'], CLIP, context_length=4)
    with pytest.raises(ValueError, match='4'):
        ref.set_context_from_text('a photo of')


def test_checkpoints_hold_the_context_only():
    prompt = ReferencePrompt(['cat', 'dog'], dict(model_name=TINY_VIT, pretrained=None),
                             context_length=4)
    state = prompt.state_dict()
    assert list(state) == ['context']
    other = ReferencePrompt(['cat', 'dog'], dict(model_name=TINY_VIT, pretrained=None),
                            context_length=4, init='random')
    other.load_state_dict(state, strict=True)
    assert torch.equal(other.context, prompt.context)
    torch.testing.assert_close(other(), prompt())


@torch.no_grad()
def authors_reference_text(model, tokenizer, names, context):
    """The authors' TextEncoder (dogehhh/ReCLIP@99b64d7 model/model.py:245-260, name tokens from
    utils/preprocess.py:521): [SOT] + 73 context + ``tokenize(name)[0][1:4]``, + positional
    embedding, the causal text transformer, ln_final, the token at ``74 + argmax(name slots)``,
    projected."""
    slots = torch.stack([tokenizer([name])[0][1:4] for name in names])  # (K, 3)
    k = len(names)
    sot = model.token_embedding(torch.full((k, 1), tokenizer.sot_token_id))
    x = torch.cat([sot, context[None].expand(k, -1, -1), model.token_embedding(slots)], dim=1)
    x = x + model.positional_embedding
    for block in model.transformer.resblocks:
        x = block(x, attn_mask=model.attn_mask)
    x = model.ln_final(x)
    return x[torch.arange(k), 74 + slots.argmax(dim=-1)] @ model.text_projection


def test_authors_name_layout_and_token_zero_init():
    """name_layout='authors' with init=0 equals a direct computation of the authors' encoder,
    including a name longer than three tokens (cut, no EOT, pooled at its largest token id)."""
    model = load_clip(**CLIP)
    tokenizer = open_clip.get_tokenizer(TINY_VIT)
    names = NAMES[:4] + ['chest of drawers by the door']
    lengths = [len(tokenizer.encode(name)) for name in names]
    assert min(lengths) == 1 and max(lengths) > 3  # one-token and cut names are both covered
    ref = ReferencePrompt(names, CLIP, init=0, name_layout='authors')
    assert ref.context_length == 73 and ref.token_ids.shape == (len(names), 77)
    # the context starts as 73 copies of token 0's embedding (the authors' torch.zeros ids)
    torch.testing.assert_close(ref.context.detach(),
                               model.token_embedding.weight[0].expand(73, -1))
    with torch.no_grad():
        ref.context.add_(0.05 * torch.randn_like(ref.context))  # a trained-looking context
    expected = authors_reference_text(model, tokenizer, names, ref.context.detach())
    torch.testing.assert_close(ref.raw_embeddings().detach(), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ref('matrix').detach(), expected / expected.norm(), atol=1e-6,
                               rtol=1e-4)
    # a short name pools at its EOT; the long one inside its name (no EOT in the sequence)
    eot = tokenizer.eot_token_id
    assert ref.token_ids[0, ref.eot_index[0]] == eot
    assert eot not in ref.token_ids[-1].tolist()
    # the paper's layout differs on the long name only through its EOT and its context length
    assert not torch.allclose(ReferencePrompt(names, CLIP, init=0).raw_embeddings(),
                              ReferencePrompt(names, CLIP, init=0,
                                              name_layout='authors').raw_embeddings())
    with pytest.raises(ValueError, match='fixed context of 73'):
        ReferencePrompt(names, CLIP, context_length=16, name_layout='authors')
    with pytest.raises(ValueError, match='name_layout'):
        ReferencePrompt(names, CLIP, name_layout='coop')

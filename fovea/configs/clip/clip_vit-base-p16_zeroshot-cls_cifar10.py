# Zero-shot CIFAR-10 with CLIP ViT-B/16 (give OpenAI's or open_clip's weights with --checkpoint):
# images resized to 224 (bicubic), class prototypes from OpenAI's 18 CIFAR templates.
_base_ = ['./clip_vit-base-p16_openai.py', '../_base_/default_runtime.py']
model = dict(text_prototype='cifar10', text_prompt='openai_cifar100')

test_dataloader = dict(
    batch_size=32,
    num_workers=2,
    dataset=dict(type='CIFAR10', data_root='data/cifar10', split='test',
                 pipeline=[dict(type='Resize', scale=(224, 224), interpolation='bicubic'), dict(type='PackInputs')]),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
test_evaluator = dict(type='Accuracy', topk=(1, 5))
test_cfg = dict()

# MMRazor's EvolutionSearchLoop settings for SPOS (used as train_cfg by the spos/*_search_* configs).
search_loop = dict(
    type='EvolutionSearchLoop',
    max_epochs=20,
    num_candidates=50,
    top_k=10,
    num_mutation=25,
    num_crossover=25,
    mutate_prob=0.1,
    crossover_prob=0.5,
    # BatchNorm statistics of each candidate re-estimated on this many training images before scoring
    calibrate_sample_num=2000,
    constraints_range=dict(flops=(0., 330.)),  # MFLOPs (MACs) at flops_input_shape
    flops_input_shape=(3, 224, 224),
    score_key='accuracy/top1')

-- optim_extra_spec.lua - Adagrad, Adadelta, Adamax, NAdam, RAdam, ASGD, Rprop
-- and LBFGS trajectories, and ConstantLR, PolynomialLR,
-- CosineAnnealingWarmRestarts, CyclicLR and ChainedScheduler lr sequences,
-- against PyTorch's numbers (float64) pasted below; generated offline by
-- tests/ref/optim_extra_ref.py (torch is never imported here). Also state_dict
-- round trips (optimizers and every scheduler), argument errors, and a
-- #cuda CPU-vs-CUDA parity block that is pending without a GPU.
local lt = require "luatrain"
local H = require "tests.helpers"
local optim = lt.optim

-- luacheck: push no max line length
local REF = {
  optim = {
    {name = "Adagrad", opts = {lr = 0.1}, lr2 = nil, sign = 1, x = {0.6826444441235845, -1.578176468847081, 2.572248812512113}, w = {0.02686686058483856, -0.2844209980959366, 0.7803869694593988, 0.5}},
    {name = "Adagrad", opts = {initial_accumulator_value = 0.2, lr = 0.1, lr_decay = 0.05, weight_decay = 0.1}, lr2 = 0.3, sign = 1, x = {0.6408857030859119, -1.6232833659409958, 2.6198014572143022}, w = {2.3989997800430954e-07, 0.26506231843866507, 0.17042000911241165, 0.48775593750602625}},
    {name = "Adagrad", opts = {lr = 0.1, maximize = true}, lr2 = nil, sign = -1, x = {0.6826444441235845, -1.578176468847081, 2.572248812512113}, w = {0.02686686058483856, -0.2844209980959366, 0.7803869694593988, 0.5}},
    {name = "Adadelta", opts = {}, lr2 = nil, sign = 1, x = {0.9739260357838051, -1.973330679662583, 2.973299977737435}, w = {0.2739339941233026, -0.6733551690894893, 1.1733418515959595, 0.4246792520969502}},
    {name = "Adadelta", opts = {lr = 0.5, rho = 0.8, weight_decay = 0.1}, lr2 = 2.0, sign = 1, x = {0.9898176112490042, -1.9899502884710134, 2.989946429326178}, w = {0.2611911095022473, -0.6600373373914649, 1.1599539322488055, 0.4352200679562763}},
    {name = "Adadelta", opts = {eps = 0.0001, maximize = true}, lr2 = nil, sign = -1, x = {0.7920929513227102, -1.7407171283574907, 2.7376288478712225}, w = {0.10169367114162384, -0.4436203196042289, 0.9418469578134638, 0.4990782061987891}},
    {name = "Adamax", opts = {lr = 0.05}, lr2 = nil, sign = 1, x = {0.702371761822217, -1.6141591863628837, 2.608380227868777}, w = {0.014191902042085393, -0.3192756986817701, 0.8162437202887198, 0.5344650676698428}},
    {name = "Adamax", opts = {betas = {0.8, 0.9}, lr = 0.05, weight_decay = 0.1}, lr2 = 0.02, sign = 1, x = {0.6965929542974371, -1.588013527106756, 2.5927337510617092}, w = {0.1183870980468672, -0.5385087119356742, 1.0379597467201964, 0.5130780675478404}},
    {name = "Adamax", opts = {lr = 0.05, maximize = true}, lr2 = nil, sign = -1, x = {0.702371761822217, -1.6141591863628837, 2.608380227868777}, w = {0.014191902042085393, -0.3192756986817701, 0.8162437202887198, 0.5344650676698428}},
    {name = "NAdam", opts = {lr = 0.05}, lr2 = nil, sign = 1, x = {0.7399826251364214, -1.686318030698324, 2.6837065006876593}, w = {0.05213944834540418, -0.3888107647008704, 0.8872859416900586, 0.5061426699270221}},
    {name = "NAdam", opts = {lr = 0.05, momentum_decay = 0.01, weight_decay = 0.1}, lr2 = 0.1, sign = 1, x = {0.6870674594174423, -1.6864072087154613, 2.6838752084645234}, w = {-0.02341603463617739, -0.1039476297826275, 0.591982346521518, 0.48927017576948534}},
    {name = "NAdam", opts = {decoupled_weight_decay = true, lr = 0.05, weight_decay = 0.1}, lr2 = nil, sign = 1, x = {0.7180768548381599, -1.615071593860531, 2.5730507216803145}, w = {0.04798351354463011, -0.36761441971903835, 0.846901568991296, 0.5037274471833713}},
    {name = "NAdam", opts = {lr = 0.05, maximize = true}, lr2 = nil, sign = -1, x = {0.7399826251364214, -1.686318030698324, 2.6837065006876593}, w = {0.05213944834540418, -0.3888107647008704, 0.8872859416900586, 0.5061426699270221}},
    {name = "RAdam", opts = {lr = 0.05}, lr2 = nil, sign = 1, x = {0.8576053278569962, 0.6608481017303135, 2.048617084346875}, w = {0.056715118379119675, 0.4664682779684734, -0.5601597494837144, 0.48360043015987947}},
    {name = "RAdam", opts = {betas = {0.9, 0.9}, lr = 0.05}, lr2 = 0.1, sign = 1, x = {0.7563960534479673, 0.6866400202478182, 2.0047133369373507}, w = {-0.09533741182625002, 1.1540406340876745, -1.5781881591513296, 0.5408169137318216}},
    {name = "RAdam", opts = {betas = {0.9, 0.9}, lr = 0.05, weight_decay = 0.1}, lr2 = nil, sign = 1, x = {0.7928907361757366, 0.7049463457135363, 1.939386746265877}, w = {0.015124936673899216, 0.5131626702893226, -0.611462714712462, 0.5098699978313291}},
    {name = "RAdam", opts = {betas = {0.9, 0.9}, decoupled_weight_decay = true, lr = 0.05, weight_decay = 0.1}, lr2 = nil, sign = 1, x = {0.7816859982695442, 0.6835861469090325, 1.914435529933086}, w = {0.015453780947361547, 0.501212337901187, -0.5953576642150858, 0.5065547040820186}},
    {name = "RAdam", opts = {betas = {0.9, 0.9}, lr = 0.05, maximize = true}, lr2 = nil, sign = -1, x = {0.815867854091731, 0.6866400202478182, 2.0047133369373507}, w = {0.019170661345602788, 0.5051794128626438, -0.5983632354243787, 0.5192869972430368}},
    {name = "ASGD", opts = {lr = 0.05}, lr2 = nil, sign = 1, x = {0.6892983541325443, 0.35587387225296807, 1.6536183159868019}, w = {0.05033045263898039, 0.5395800273430131, -0.630889208705329, 0.48321277981593247}},
    {name = "ASGD", opts = {alpha = 0.5, lambd = 0.01, lr = 0.05, t0 = 3.0, weight_decay = 0.1}, lr2 = 0.02, sign = 1, x = {0.7717708433203717, 0.35576437637654296, 1.5705894129566982}, w = {0.15108261985862598, 0.022335895756034858, 0.1212246233392109, 0.4429964211924811}},
    {name = "ASGD", opts = {lr = 0.05, maximize = true}, lr2 = nil, sign = -1, x = {0.6892983541325443, 0.35587387225296807, 1.6536183159868019}, w = {0.05033045263898039, 0.5395800273430131, -0.630889208705329, 0.48321277981593247}},
    {name = "Rprop", opts = {lr = 0.05}, lr2 = nil, sign = 1, x = {0.5138719999999999, -1.17504576, 2.1750457600000006}, w = {0.04196800000000001, 0.12495423999999997, 0.3750457599999999, 0.513}},
    {name = "Rprop", opts = {etas = {0.3, 1.5}, lr = 0.05, step_sizes = {0.01, 0.2}}, lr2 = 0.1, sign = 1, x = {0.24375, -0.7937500000000002, 1.7937499999999997}, w = {0.13499999999999995, 0.75, -0.2500000000000002, 0.5}},
    {name = "Rprop", opts = {lr = 0.05, maximize = true}, lr2 = nil, sign = -1, x = {0.5138719999999999, -1.17504576, 2.1750457600000006}, w = {0.04196800000000001, 0.12495423999999997, 0.3750457599999999, 0.513}},
    {name = "Adagrad", opts = {lr = 0.1, maximize = true, weight_decay = 0.1}, lr2 = nil, sign = -1, x = {0.6686740681006488, -1.578229446223146, 2.572474452099582}, w = {0.02686686058467351, -0.2846086629907628, 0.7805949839936461, 0.48780487121779903}},
    {name = "Adamax", opts = {lr = 0.05, maximize = true, weight_decay = 0.1}, lr2 = nil, sign = -1, x = {0.6889003806787406, -1.6142095769889138, 2.6086054935026386}, w = {0.014191902004413164, -0.3195587789674258, 0.8164380050279506, 0.5134467519661636}},
    {name = "NAdam", opts = {lr = 0.05, maximize = true, weight_decay = 0.1}, lr2 = nil, sign = -1, x = {0.730268313001464, -1.6863412641579312, 2.683806360462364}, w = {0.05213944830362068, -0.38892141478725495, 0.8873768679862011, 0.49206686018702656}},
    {name = "ASGD", opts = {lr = 0.05, maximize = true, weight_decay = 0.1}, lr2 = nil, sign = -1, x = {0.6641667043381949, 0.35615583493174624, 1.577015795993457}, w = {0.047868320637380155, 0.5394775934490696, -0.6284471400828374, 0.47378463883268596}},
    {name = "Adadelta", opts = {maximize = true, weight_decay = 0.1}, lr2 = nil, sign = -1, x = {0.9738088898881663, -1.9733309490946158, 2.9733011666117815}, w = {0.2739339896307644, -0.6733572911607436, 1.1733428952477152, 0.4243884930647216}},
  },
  lbfgs = {
    {opts = {line_search_fn = "strong_wolfe", lr = 1}, traj = {{-0.08511855589860293, -0.028757058413769698}, {0.9995835472529905, 0.9991550319577943}, {0.9999979943196398, 0.9999973438921637}, {0.9999979943196398, 0.9999973438921637}}, losses = {12.5, 1.3070983150500495, 1.884048137837783e-07, 1.8769270132829514e-10}, func_evals = 54, n_iter = 42},
    {opts = {lr = 0.1, max_iter = 7}, traj = {{-1.4217173541755648, 2.0232772915886508}, {-1.416274306657864, 2.015364723782984}, {-1.4008179283595685, 1.9830550678049643}, {-1.039940739459965, 1.1103798325796463}}, losses = {12.5, 5.865113766951433, 5.847467069174974, 5.8070419227691925}, func_evals = 28, n_iter = 28},
    {opts = {history_size = 3, line_search_fn = "strong_wolfe", lr = 1, max_iter = 10}, traj = {{-1.0217822711307085, 1.0702366405477743}, {0.056564218261094465, -0.02217403695043733}, {0.696031135694279, 0.4730234418961275}, {0.9981220749767342, 0.9967816348362879}}, losses = {12.5, 4.156235138601592, 0.9544527667461811, 0.10547505125622868}, func_evals = 48, n_iter = 36},
  },
  sched = {
    {name = "CosineAnnealingWarmRestarts", args = {T_0 = 3}, lrs = {{0.1, 0.05}, {0.07500000000000001, 0.037500000000000006}, {0.025000000000000012, 0.012500000000000006}, {0.1, 0.05}, {0.07500000000000001, 0.037500000000000006}, {0.025000000000000012, 0.012500000000000006}, {0.1, 0.05}, {0.07500000000000001, 0.037500000000000006}, {0.025000000000000012, 0.012500000000000006}, {0.1, 0.05}, {0.07500000000000001, 0.037500000000000006}, {0.025000000000000012, 0.012500000000000006}, {0.1, 0.05}, {0.07500000000000001, 0.037500000000000006}, {0.025000000000000012, 0.012500000000000006}, {0.1, 0.05}, {0.07500000000000001, 0.037500000000000006}, {0.025000000000000012, 0.012500000000000006}, {0.1, 0.05}, {0.07500000000000001, 0.037500000000000006}, {0.025000000000000012, 0.012500000000000006}}, moms = {}},
    {name = "CosineAnnealingWarmRestarts", args = {T_0 = 2, T_mult = 2, eta_min = 0.01}, lrs = {{0.1, 0.05}, {0.05500000000000001, 0.03}, {0.1, 0.05}, {0.08681980515339464, 0.044142135623730955}, {0.05500000000000001, 0.03}, {0.023180194846605363, 0.01585786437626905}, {0.1, 0.05}, {0.0965745789630079, 0.048477590650225735}, {0.08681980515339464, 0.044142135623730955}, {0.07222075445642905, 0.0376536686473018}, {0.05500000000000001, 0.03}, {0.03777924554357097, 0.022346331352698208}, {0.023180194846605363, 0.01585786437626905}, {0.013425421036992097, 0.011522409349774266}, {0.1, 0.05}, {0.09913533761814537, 0.04961570560806461}, {0.0965745789630079, 0.048477590650225735}, {0.09241613255361454, 0.04662939224605091}, {0.08681980515339464, 0.044142135623730955}, {0.0800006604858821, 0.041111404660392044}, {0.07222075445642905, 0.0376536686473018}}, moms = {}},
    {name = "CosineAnnealingWarmRestarts", args = {T_0 = 2, T_mult = 2, eta_min = 0.01, epochs = true}, lrs = {{0.1, 0.05}, {0.09336880739593416, 0.04705280328708185}, {0.07542957248827961, 0.03907980999479094}, {0.051469340692247, 0.028430818085443108}, {0.028549663646838717, 0.018244294954150538}, {0.013425421036992097, 0.011522409349774266}, {0.09986128001799077, 0.04993834667466256}, {0.0972186101165118, 0.048763826718449685}, {0.09140576474687263, 0.04618033988749895}, {0.08285922771894254, 0.042381878986196685}, {0.07222075445642905, 0.0376536686473018}, {0.06028918288560272, 0.03235074794915676}, {0.04796044907318965, 0.0268713106991954}, {0.036160311810815755, 0.021626805249251445}, {0.025774837825141755, 0.017011039033396336}, {0.01758386744638546, 0.013370607753949094}, {0.012202456766718096, 0.010978869674096932}, {0.01003469336916747, 0.010015419275185542}, {0.0996880805629717, 0.049861369139098534}, {0.0985419591562117, 0.0493519818472052}, {0.0965745789630079, 0.048477590650225735}}, moms = {}},
    {name = "CosineAnnealingWarmRestarts", args = {T_0 = 3, epochs = true}, lrs = {{0.1, 0.05}, {0.09667902132486009, 0.048339510662430044}, {0.08715724127386971, 0.04357862063693486}, {0.07269952498697735, 0.036349762493488674}, {0.05522642316338268, 0.02761321158169134}, {0.03705904774487397, 0.018529523872436986}, {0.020610737385376367, 0.010305368692688183}, {0.008066471602728803, 0.0040332358013644015}, {0.0010926199633097156, 0.0005463099816548578}, {0.0993844170297569, 0.04969220851487845}, {0.09330127018922195, 0.046650635094610975}, {0.08146601955249189, 0.04073300977624594}, {0.06545084971874741, 0.03272542485937371}, {0.04738320218785283, 0.023691601093926415}, {0.029663167846210016, 0.014831583923105008}, {0.014644660940672627, 0.0073223304703363135}, {0.004322727117869968, 0.002161363558934984}, {6.852326227130834e-05, 3.426163113565417e-05}, {0.09755282581475769, 0.048776412907378844}, {0.08885729807284858, 0.04442864903642429}, {0.07500000000000001, 0.037500000000000006}}, moms = {}},
    {name = "ConstantLR", args = {}, lrs = {{0.03333333333333333, 0.016666666666666666}, {0.03333333333333333, 0.016666666666666666}, {0.03333333333333333, 0.016666666666666666}, {0.03333333333333333, 0.016666666666666666}, {0.03333333333333333, 0.016666666666666666}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}}, moms = {}},
    {name = "ConstantLR", args = {factor = 0.5, total_iters = 4}, lrs = {{0.05, 0.025}, {0.05, 0.025}, {0.05, 0.025}, {0.05, 0.025}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}, {0.1, 0.05}}, moms = {}},
    {name = "PolynomialLR", args = {}, lrs = {{0.1, 0.05}, {0.08000000000000002, 0.04000000000000001}, {0.060000000000000005, 0.030000000000000002}, {0.04000000000000001, 0.020000000000000004}, {0.02, 0.01}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}}, moms = {}},
    {name = "PolynomialLR", args = {total_iters = 8, power = 2.0}, lrs = {{0.1, 0.05}, {0.0765625, 0.03828125}, {0.05625, 0.028125}, {0.03906250000000001, 0.019531250000000003}, {0.02500000000000001, 0.012500000000000004}, {0.014062500000000006, 0.007031250000000003}, {0.006250000000000002, 0.003125000000000001}, {0.0015625000000000005, 0.0007812500000000003}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}}, moms = {}},
    {name = "CyclicLR", args = {base_lr = 0.01, max_lr = 0.1, step_size_up = 4}, lrs = {{0.01, 0.01}, {0.0325, 0.0325}, {0.05500000000000001, 0.05500000000000001}, {0.0775, 0.0775}, {0.1, 0.1}, {0.0775, 0.0775}, {0.05500000000000001, 0.05500000000000001}, {0.0325, 0.0325}, {0.01, 0.01}, {0.0325, 0.0325}, {0.05500000000000001, 0.05500000000000001}, {0.0775, 0.0775}, {0.1, 0.1}, {0.0775, 0.0775}, {0.05500000000000001, 0.05500000000000001}, {0.0325, 0.0325}, {0.01, 0.01}, {0.0325, 0.0325}, {0.05500000000000001, 0.05500000000000001}, {0.0775, 0.0775}, {0.1, 0.1}}, moms = {0.9, 0.875, 0.8500000000000001, 0.8250000000000001, 0.8, 0.8250000000000001, 0.8500000000000001, 0.875, 0.9, 0.875, 0.8500000000000001, 0.8250000000000001, 0.8, 0.8250000000000001, 0.8500000000000001, 0.875, 0.9, 0.875, 0.8500000000000001, 0.8250000000000001, 0.8}},
    {name = "CyclicLR", args = {base_lr = {0.01, 0.02}, max_lr = {0.1, 0.05}, step_size_up = 3, step_size_down = 2, mode = "triangular2"}, lrs = {{0.01, 0.02}, {0.039999999999999994, 0.03}, {0.06999999999999999, 0.039999999999999994}, {0.09999999999999999, 0.049999999999999996}, {0.055, 0.034999999999999996}, {0.01, 0.02}, {0.025000000000000015, 0.025000000000000005}, {0.039999999999999994, 0.03}, {0.055, 0.034999999999999996}, {0.03250000000000002, 0.027500000000000007}, {0.01, 0.02}, {0.01750000000000001, 0.022500000000000003}, {0.024999999999999998, 0.025}, {0.0325, 0.0275}, {0.021250000000000012, 0.023750000000000004}, {0.01, 0.02}, {0.013750000000000004, 0.02125}, {0.01750000000000001, 0.022500000000000003}, {0.021249999999999995, 0.02375}, {0.015625000000000007, 0.021875000000000002}, {0.01, 0.02}}, moms = {0.9, 0.8666666666666667, 0.8333333333333334, 0.8, 0.8500000000000001, 0.9, 0.8833333333333333, 0.8666666666666667, 0.8500000000000001, 0.875, 0.9, 0.8916666666666667, 0.8833333333333334, 0.875, 0.8875000000000001, 0.9, 0.8958333333333334, 0.8916666666666667, 0.8875000000000001, 0.89375, 0.9}},
    {name = "CyclicLR", args = {base_lr = 0.01, max_lr = 0.1, step_size_up = 3, mode = "exp_range", gamma = 0.9, adam = true}, lrs = {{0.01, 0.01}, {0.03700000000000001, 0.03700000000000001}, {0.0586, 0.0586}, {0.07561000000000001, 0.07561000000000001}, {0.04936600000000002, 0.04936600000000002}, {0.027714699999999988, 0.027714699999999988}, {0.01, 0.01}, {0.02434890700000003, 0.02434890700000003}, {0.03582803259999999, 0.03582803259999999}, {0.04486784401000001, 0.04486784401000001}, {0.03092070640599999, 0.03092070640599999}, {0.019414317882700018, 0.019414317882700018}, {0.01, 0.01}, {0.017625597484986995, 0.017625597484986995}, {0.023726075472976615, 0.023726075472976615}, {0.028530201888518417, 0.028530201888518417}, {0.021118121133111054, 0.021118121133111054}, {0.01500315450989997, 0.01500315450989997}, {0.01, 0.01}, {0.014052555153018965, 0.014052555153018965}, {0.017294599275434176, 0.017294599275434176}}, moms = {0.9, 0.87, 0.8460000000000001, 0.8271000000000001, 0.85626, 0.880317, 0.9, 0.8840567699999999, 0.8713021860000001, 0.8612579511, 0.8767547706600001, 0.889539646797, 0.9, 0.89152711390557, 0.8847488050300261, 0.8794108867905351, 0.8876465320743211, 0.8944409394334445, 0.9, 0.8954971609410901, 0.891894889693962}},
    {name = "CyclicLR", args = {base_lr = 0.01, max_lr = 0.1, step_size_up = 4, cycle_momentum = false}, lrs = {{0.01, 0.01}, {0.0325, 0.0325}, {0.05500000000000001, 0.05500000000000001}, {0.0775, 0.0775}, {0.1, 0.1}, {0.0775, 0.0775}, {0.05500000000000001, 0.05500000000000001}, {0.0325, 0.0325}, {0.01, 0.01}, {0.0325, 0.0325}, {0.05500000000000001, 0.05500000000000001}, {0.0775, 0.0775}, {0.1, 0.1}, {0.0775, 0.0775}, {0.05500000000000001, 0.05500000000000001}, {0.0325, 0.0325}, {0.01, 0.01}, {0.0325, 0.0325}, {0.05500000000000001, 0.05500000000000001}, {0.0775, 0.0775}, {0.1, 0.1}}, moms = {}},
    {name = "ChainedScheduler", args = {}, lrs = {{0.010000000000000002, 0.005000000000000001}, {0.009000000000000003, 0.004500000000000001}, {0.08100000000000003, 0.040500000000000015}, {0.07290000000000003, 0.03645000000000002}, {0.06561000000000003, 0.032805000000000015}, {0.059049000000000025, 0.029524500000000013}, {0.05314410000000002, 0.02657205000000001}, {0.04782969000000002, 0.02391484500000001}, {0.043046721000000024, 0.021523360500000012}, {0.03874204890000002, 0.01937102445000001}, {0.03486784401000002, 0.01743392200500001}, {0.03138105960900001, 0.015690529804500006}, {0.028242953648100012, 0.014121476824050006}, {0.025418658283290013, 0.012709329141645007}, {0.022876792454961013, 0.011438396227480507}, {0.020589113209464913, 0.010294556604732457}, {0.01853020188851842, 0.00926510094425921}, {0.01667718169966658, 0.00833859084983329}, {0.015009463529699923, 0.007504731764849962}, {0.013508517176729932, 0.006754258588364966}, {0.01215766545905694, 0.00607883272952847}}, moms = {}},
    {name = "ChainedScheduler", args = {warm = true}, lrs = {{0.1, 0.05}, {0.09045084971874738, 0.04522542485937369}, {0.06545084971874737, 0.032725424859373686}, {0.03454915028125263, 0.017274575140626316}, {0.009549150281252633, 0.004774575140626317}, {0.1, 0.05}, {0.09045084971874738, 0.04522542485937369}, {0.06545084971874737, 0.032725424859373686}, {0.03454915028125263, 0.017274575140626316}, {0.009549150281252633, 0.004774575140626317}, {0.1, 0.05}, {0.09045084971874738, 0.04522542485937369}, {0.06545084971874737, 0.032725424859373686}, {0.03454915028125263, 0.017274575140626316}, {0.009549150281252633, 0.004774575140626317}, {0.1, 0.05}, {0.09045084971874738, 0.04522542485937369}, {0.06545084971874737, 0.032725424859373686}, {0.03454915028125263, 0.017274575140626316}, {0.009549150281252633, 0.004774575140626317}, {0.1, 0.05}}, moms = {}},
  },
}
-- luacheck: pop

local X0 = {1.0, -2.0, 3.0}
local A = {0.5, 0.5, -1.0}
local CC = {1.0, 3.0, 0.5}
local W0 = {{0.3, -0.7}, {1.2, 0.4}}
local B = {{0.0, 1.0}, {-1.0, 0.5}}

-- the problem of ref/optim_extra_ref.py: two params in two groups (the second
-- group may have its own lr); sign = -1 pairs with maximize = true
local function problem(dtype, device)
  local o = {dtype = dtype or "float64", device = device or "cpu"}
  local x = lt.tensor(X0, {dtype = o.dtype, device = o.device, requires_grad = true})
  local w = lt.tensor(W0, {dtype = o.dtype, device = o.device, requires_grad = true})
  local a, c, b = lt.tensor(A, o), lt.tensor(CC, o), lt.tensor(B, o)
  local function loss(sign)
    local d = x - a
    local e = w - b
    local cross = (x:narrow(1, 1, 1) * w:narrow(1, 1, 1):narrow(2, 2, 1)):sum()
    local l = (c * d * d):sum() + (e * e):sum() * 2 + cross
    return l * sign
  end
  return x, w, loss
end

local function copy_opts(o)
  local c = {}
  for k, v in pairs(o) do
    if type(v) == "table" then c[k] = {table.unpack(v)} else c[k] = v end
  end
  return c
end

local function make_opt(case, x, w)
  local g2 = {params = {w}}
  if case.lr2 then g2.lr = case.lr2 end
  return optim[case.name]({{params = {x}}, g2}, copy_opts(case.opts))
end

local function steps(opt, loss, sign, n)
  for _ = 1, n do
    opt:zero_grad()
    loss(sign):backward()
    opt:step()
  end
end

local function close(got, want, tol, what)
  assert.are.equal(#want, #got, what .. ": length")
  for i = 1, #want do
    local g, e = got[i], want[i]
    if type(e) == "table" then
      close(g, e, tol, what .. "[" .. i .. "]")
    elseif g ~= g or math.abs(g - e) > tol * (1 + math.abs(e)) then
      error(("%s[%d]: expected %.17g, got %.17g"):format(what, i, e, g), 2)
    end
  end
end

local function flat(t) return t:detach():to({dtype = "float64", device = "cpu"}):reshape(-1):tolist() end

local function describe_opts(case)
  local keys = {}
  for k, v in pairs(case.opts) do
    keys[#keys + 1] = k .. "=" .. (type(v) == "table" and "{" .. table.concat(v, ",") .. "}" or tostring(v))
  end
  table.sort(keys)
  return case.name .. "{" .. table.concat(keys, " ") .. "}" .. (case.lr2 and (" lr2=" .. case.lr2) or "")
end

describe("optimizers vs PyTorch (float64, 8 steps, two param groups)", function()
  for _, case in ipairs(REF.optim) do
    it(describe_opts(case), function()
      local x, w, loss = problem()
      local opt = make_opt(case, x, w)
      steps(opt, loss, case.sign, 8)
      close(flat(x), case.x, 1e-10, "x")
      close(flat(w), case.w, 1e-10, "w")
    end)
  end
end)

describe("optimizer state_dict round trip", function()
  local seen = {}
  for _, case in ipairs(REF.optim) do
    if not seen[case.name] then
      seen[case.name] = true
      it(case.name .. " resumes with identical steps", function()
        local x, w, loss = problem()
        local opt = make_opt(case, x, w)
        steps(opt, loss, case.sign, 3)
        local sd = opt:state_dict()
        assert.is_not_nil(sd.state[1])
        assert.are.equal(3, sd.state[1].step)
        local x2, w2, loss2 = problem()
        x2.data:copy_(x:detach()); w2.data:copy_(w:detach())
        local opt2 = make_opt(case, x2, w2)
        opt2:load_state_dict(sd)
        steps(opt, loss, case.sign, 4)
        steps(opt2, loss2, case.sign, 4)
        assert.are.same(flat(x), flat(x2))
        assert.are.same(flat(w), flat(w2))
      end)
      it(case.name .. " resumes exactly from a checkpoint file", function()
        local x, w, loss = problem()
        local opt = make_opt(case, x, w)
        steps(opt, loss, case.sign, 3)
        local path = H.tmpname(".safetensors")
        lt.save_checkpoint(path, {optimizer = opt})
        local x2, w2, loss2 = problem()
        x2.data:copy_(x:detach()); w2.data:copy_(w:detach())
        local opt2 = make_opt(case, x2, w2)
        lt.load_checkpoint(path, {optimizer = opt2})
        os.remove(path)
        steps(opt, loss, case.sign, 4)
        steps(opt2, loss2, case.sign, 4)
        assert.are.same(flat(x), flat(x2))
        assert.are.same(flat(w), flat(w2))
      end)
    end
  end

  it("per-group options are kept and exported", function()
    local x, w = problem()
    local opt = optim.NAdam({{params = {x}}, {params = {w}, lr = 0.5, momentum_decay = 0.01}}, {lr = 0.1})
    local sd = opt:state_dict()
    assert.are.equal(0.1, sd.param_groups[1].lr)
    assert.are.equal(0.5, sd.param_groups[2].lr)
    assert.are.equal(4e-3, sd.param_groups[1].momentum_decay)
    assert.are.equal(0.01, sd.param_groups[2].momentum_decay)
    assert.are.same({1}, sd.param_groups[1].params)
    assert.are.same({2}, sd.param_groups[2].params)
  end)

  it("does not modify p.grad", function()
    for name in pairs(seen) do
      local x, w, loss = problem()
      local case
      for _, c in ipairs(REF.optim) do if c.name == name and c.opts.maximize then case = c end end
      local opt = make_opt(case, x, w)
      opt:zero_grad()
      loss(-1):backward()
      local g = flat(x.grad)
      opt:step()
      assert.are.same(g, flat(x.grad), name)
    end
  end)
end)

local function rosen_problem(dtype, device)
  local p = lt.tensor({-1.5, 2.0},
                      {dtype = dtype or "float64", device = device or "cpu", requires_grad = true})
  local function f()
    local a = p:narrow(1, 1, 1)
    local b = p:narrow(1, 2, 1)
    local u = 1 - a
    local v = b - a * a
    return (u * u + v * v * 100):sum()
  end
  return p, f
end

describe("LBFGS vs PyTorch on Rosenbrock", function()
  for _, case in ipairs(REF.lbfgs) do
    it(describe_opts({name = "LBFGS", opts = case.opts}), function()
      local p, f = rosen_problem()
      local opt = optim.LBFGS({p}, copy_opts(case.opts))
      local function closure()
        opt:zero_grad()
        local l = f()
        l:backward()
        return l
      end
      for i = 1, #case.traj do
        local l = opt:step(closure)
        assert.is_true(lt.is_tensor(l))
        -- summation order in the dot products differs from BLAS's: Rosenbrock
        -- amplifies the last-bit differences over tens of iterations
        close({l:item()}, {case.losses[i]}, 1e-6, "loss " .. i)
        close(flat(p), case.traj[i], 1e-6, "iterate " .. i)
      end
      local st = opt.state[p]
      assert.are.equal(case.func_evals, st.func_evals)
      assert.are.equal(case.n_iter, st.n_iter)
    end)
  end

  it("maximize climbs -f like minimizing f", function()
    local p, f = rosen_problem()
    local opt = optim.LBFGS({p}, {line_search_fn = "strong_wolfe", maximize = true})
    for _ = 1, 2 do
      opt:step(function() opt:zero_grad(); local l = -f(); l:backward(); return l end)
    end
    close(flat(p), REF.lbfgs[1].traj[2], 1e-8, "iterate")
  end)

  it("resumes from its state_dict", function()
    local p, f = rosen_problem()
    local opt = optim.LBFGS({p}, {line_search_fn = "strong_wolfe", max_iter = 5})
    local function cl(o, g) return function() o:zero_grad(); local l = g(); l:backward(); return l end end
    opt:step(cl(opt, f))
    local sd = opt:state_dict()
    local p2, f2 = rosen_problem()
    p2.data:copy_(p:detach())
    local opt2 = optim.LBFGS({p2}, {line_search_fn = "strong_wolfe", max_iter = 5})
    opt2:load_state_dict(sd)
    opt:step(cl(opt, f))
    opt2:step(cl(opt2, f2))
    assert.are.same(flat(p), flat(p2))
  end)

  it("resumes from a checkpoint file (history lists as tensors)", function()
    local p, f = rosen_problem()
    local opt = optim.LBFGS({p}, {line_search_fn = "strong_wolfe", max_iter = 5})
    local function cl(o, g) return function() o:zero_grad(); local l = g(); l:backward(); return l end end
    opt:step(cl(opt, f))
    assert.is_true(#opt.state[p].old_dirs > 0)
    local path = H.tmpname(".safetensors")
    lt.save_checkpoint(path, {optimizer = opt})
    local p2, f2 = rosen_problem()
    p2.data:copy_(p:detach())
    local opt2 = optim.LBFGS({p2}, {line_search_fn = "strong_wolfe", max_iter = 5})
    lt.load_checkpoint(path, {optimizer = opt2})
    os.remove(path)
    assert.are.equal(#opt.state[p].old_dirs, #opt2.state[p2].old_dirs)
    opt:step(cl(opt, f))
    opt2:step(cl(opt2, f2))
    assert.are.same(flat(p), flat(p2))
  end)

  it("a closure returning a number works and stops at a minimum", function()
    local p = lt.tensor({1.0, 1.0}, {dtype = "float64", requires_grad = true})
    local opt = optim.LBFGS({p})
    local calls = 0
    local r = opt:step(function()
      calls = calls + 1
      opt:zero_grad()
      local l = ((p - 1) * (p - 1)):sum()
      l:backward()
      return l:item()
    end)
    assert.are.equal(0, r)
    assert.are.equal(1, calls)
  end)
end)

describe("optimizer argument errors", function()
  local x = lt.tensor({1.0, 2.0}, {requires_grad = true})
  local cases = {
    {function() return optim.Adagrad({x}, {lr = -1}) end,
     "Adagrad: bad option 'lr' %(non%-negative number expected, got %-1%)"},
    {function() return optim.Adagrad({x}, {initial_accumulator_value = -0.5}) end,
     "Adagrad: bad option 'initial_accumulator_value'.*%-0%.5"},
    {function() return optim.Adagrad({x}, "fast") end,
     "Adagrad: bad argument #2 'opts' %(table expected, got string%)"},
    {function() return optim.Adagrad("x") end, "Adagrad: bad argument #1 'params'"},
    {function() return optim.Adadelta({x}, {rho = 1.5}) end,
     "Adadelta: bad option 'rho' %(number in %[0, 1%] expected, got 1%.5%)"},
    {function() return optim.Adadelta({x}, {lr = "big"}) end, "Adadelta: bad option 'lr'.*got big"},
    {function() return optim.Adamax({x}, {betas = {1.0, 0.9}}) end,
     "Adamax: bad option 'betas'.*got {1%.0, 0%.9}"},
    {function() return optim.Adamax({x}, {eps = -1e-8}) end, "Adamax: bad option 'eps'"},
    {function() return optim.NAdam({x}, {momentum_decay = -0.1}) end,
     "NAdam: bad option 'momentum_decay'.*%-0%.1"},
    {function() return optim.NAdam({x}, {lrr = 0.1}) end, "NAdam: unknown option 'lrr'"},
    {function() return optim.RAdam({x}, {decoupled_weight_decay = "yes"}) end,
     "RAdam: bad option 'decoupled_weight_decay' %(boolean expected, got yes%)"},
    {function() return optim.RAdam({x}, {weight_decay = -1}) end, "RAdam: bad option 'weight_decay'"},
    {function() return optim.ASGD({x}, {lambd = -1}) end, "ASGD: bad option 'lambd'.*%-1"},
    {function() return optim.ASGD({x}, {t0 = "soon"}) end, "ASGD: bad option 't0'"},
    {function() return optim.Rprop({x}, {etas = {1.5, 1.2}}) end,
     "Rprop: bad option 'etas' %(0 < etaminus < 1 < etaplus expected, got {1%.5, 1%.2}%)"},
    {function() return optim.Rprop({x}, {step_sizes = 3}) end, "Rprop: bad option 'step_sizes'"},
    {function() return optim.LBFGS({x}, {line_search_fn = "armijo"}) end,
     "LBFGS: bad option 'line_search_fn'.*armijo"},
    {function() return optim.LBFGS({x}, {max_iter = 0}) end,
     "LBFGS: bad option 'max_iter' %(positive integer expected, got 0%)"},
    {function() return optim.LBFGS({x}, {history_size = 2.5}) end, "LBFGS: bad option 'history_size'.*2%.5"},
    {function() return optim.LBFGS({{params = {x}}, {params = {lt.zeros(1, {requires_grad = true})}}}) end,
     "LBFGS doesn't support per%-parameter options"},
    {function() return optim.LBFGS({x}):step() end,
     "LBFGS:step: bad argument #1 'closure' %(function expected, got nil%)"},
    {function() return optim.LBFGS({x}):step(function() return "x" end) end, "closure must return the loss"},
    {function() return optim.LBFGS({x}):add_param_group({params = {lt.zeros(1)}}) end,
     "LBFGS doesn't support"},
  }
  for i, c in ipairs(cases) do
    it(("case %d: %s"):format(i, c[2]:gsub("%%", "")), function()
      local ok, err = pcall(c[1])
      assert.is_false(ok)
      assert.is_truthy(tostring(err):find(c[2]), tostring(err))
    end)
  end

  it("errors point at the caller's line", function()
    local ok, err = pcall(function() local o = optim.RAdam({x}, {lr = -1}); return o end)
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find("optim_extra_spec.lua", 1, true), tostring(err))
  end)
end)

-- ------------------------------------------------------------------ schedulers

local S = optim.lr_scheduler

local function sched_opt(adam)
  local p = lt.zeros(2, {requires_grad = true})
  local q = lt.zeros(1, {requires_grad = true})
  if adam then return optim.Adam({{params = {p}}, {params = {q}, lr = 0.05}}, {lr = 0.1}) end
  return optim.SGD({{params = {p}}, {params = {q}, lr = 0.05}}, {lr = 0.1, momentum = 0.9})
end

local function make_sched(name, a, o)
  if name == "CosineAnnealingWarmRestarts" then
    return S.CosineAnnealingWarmRestarts(o, a.T_0, {T_mult = a.T_mult, eta_min = a.eta_min})
  elseif name == "ConstantLR" then
    return S.ConstantLR(o, {factor = a.factor, total_iters = a.total_iters})
  elseif name == "PolynomialLR" then
    return S.PolynomialLR(o, {total_iters = a.total_iters, power = a.power})
  elseif name == "CyclicLR" then
    return S.CyclicLR(o, a.base_lr, a.max_lr, {step_size_up = a.step_size_up,
                      step_size_down = a.step_size_down,
                      mode = a.mode, gamma = a.gamma, cycle_momentum = a.cycle_momentum})
  elseif name == "ChainedScheduler" then
    if a.warm then
      return S.ChainedScheduler({S.LinearLR(o, {start_factor = 0.25, total_iters = 4}),
                                 S.CosineAnnealingWarmRestarts(o, 5)})
    end
    return S.ChainedScheduler({S.ConstantLR(o, {factor = 0.1, total_iters = 2}), S.ExponentialLR(o, 0.9)})
  end
  error("unknown scheduler " .. name)
end

local function momentum_of(o)
  local g = o.param_groups[1]
  return g.betas and g.betas[1] or g.momentum
end

describe("schedulers vs PyTorch (20 steps, two groups)", function()
  for _, case in ipairs(REF.sched) do
    local a = case.args
    local keys = {}
    for k, v in pairs(a) do keys[#keys + 1] = k .. "=" .. (type(v) == "table" and "{...}" or tostring(v)) end
    table.sort(keys)
    it(case.name .. " " .. table.concat(keys, " "), function()
      local o = sched_opt(a.adam)
      local s = make_sched(case.name, a, o)
      local lrs, moms = {s:get_last_lr()}, {}
      if #case.moms > 0 then moms[1] = momentum_of(o) end
      for i = 1, 20 do
        o:step()
        if a.epochs then s:step(i * 0.35) else s:step() end
        lrs[#lrs + 1] = s:get_last_lr()
        if #case.moms > 0 then moms[#moms + 1] = momentum_of(o) end
        assert.are.same(s:get_last_lr(), {o.param_groups[1].lr, o.param_groups[2].lr})
      end
      close(lrs, case.lrs, 1e-12, "lrs")
      close(moms, case.moms, 1e-12, "momentum")
    end)
  end
end)

describe("scheduler state_dict round trip (through JSON)", function()
  local makers = {
    StepLR = function(o) return S.StepLR(o, 3, {gamma = 0.5}) end,
    MultiStepLR = function(o) return S.MultiStepLR(o, {2, 5, 9}) end,
    ExponentialLR = function(o) return S.ExponentialLR(o, 0.9) end,
    CosineAnnealingLR = function(o) return S.CosineAnnealingLR(o, 6, {eta_min = 0.01}) end,
    LambdaLR = function(o) return S.LambdaLR(o, function(e) return 1 / (e + 1) end) end,
    LinearLR = function(o) return S.LinearLR(o, {total_iters = 8}) end,
    OneCycleLR = function(o) return S.OneCycleLR(o, 0.5, {total_steps = 30}) end,
    SequentialLR = function(o)
      return S.SequentialLR(o, {S.LinearLR(o, {total_iters = 3}), S.ExponentialLR(o, 0.8)}, {4})
    end,
    ConstantLR = function(o) return S.ConstantLR(o, {factor = 0.5, total_iters = 9}) end,
    PolynomialLR = function(o) return S.PolynomialLR(o, {total_iters = 12, power = 2}) end,
    CosineAnnealingWarmRestarts = function(o) return S.CosineAnnealingWarmRestarts(o, 3, {T_mult = 2}) end,
    CyclicLR = function(o) return S.CyclicLR(o, 0.01, 0.1, {step_size_up = 4, mode = "triangular2"}) end,
    ChainedScheduler = function(o)
      return S.ChainedScheduler({S.ConstantLR(o, {factor = 0.1, total_iters = 9}), S.ExponentialLR(o, 0.9)})
    end,
    ReduceLROnPlateau = function(o) return S.ReduceLROnPlateau(o, {patience = 1}) end,
  }
  local names = {}
  for k in pairs(makers) do names[#names + 1] = k end
  table.sort(names)
  for _, name in ipairs(names) do
    it(name .. " resumes with the same lrs and has get_last_lr", function()
      local o1 = sched_opt()
      local s1 = makers[name](o1)
      assert.are.same({o1.param_groups[1].lr, o1.param_groups[2].lr}, s1:get_last_lr())
      local metric = 0
      local function step(s)
        if name == "ReduceLROnPlateau" then s:step(10 - (metric % 3)) else s:step() end
      end
      for _ = 1, 7 do o1:step(); step(s1); metric = metric + 1 end
      local sd = lt.json.decode(lt.json.encode(s1:state_dict()))
      local osd = o1:state_dict()
      local o2 = sched_opt()
      local s2 = makers[name](o2)
      o2:load_state_dict(osd)
      s2:load_state_dict(sd)
      assert.are.same(s1:get_last_lr(), s2:get_last_lr())
      local m0 = metric
      for _ = 1, 8 do o1:step(); step(s1); metric = metric + 1 end
      metric = m0
      for _ = 1, 8 do o2:step(); step(s2); metric = metric + 1 end
      close(s2:get_last_lr(), s1:get_last_lr(), 1e-15, "lr")
      close({o2.param_groups[1].lr, o2.param_groups[2].lr}, s1:get_last_lr(), 1e-15, "group lr")
    end)
  end
end)

describe("scheduler argument errors", function()
  local cases = {
    {function(o) return S.CosineAnnealingWarmRestarts(o, 0) end,
     "CosineAnnealingWarmRestarts: bad argument 'T_0' %(positive integer expected, got 0%)"},
    {function(o) return S.CosineAnnealingWarmRestarts(o, 2, {T_mult = 1.5}) end,
     "CosineAnnealingWarmRestarts: bad option 'T_mult'.*1%.5"},
    {function(o) return S.CosineAnnealingWarmRestarts(o, 2):step(-1) end,
     "'epoch' %(non%-negative number expected, got %-1%)"},
    {function(o) return S.ConstantLR(o, {factor = 2}) end,
     "ConstantLR: bad option 'factor' %(expected in %[0, 1%], got 2%)"},
    {function(o) return S.PolynomialLR(o, {total_iters = 0}) end,
     "PolynomialLR: bad option 'total_iters'.*got 0"},
    {function(o) return S.CyclicLR(o, 0.01, 0.1, {mode = "sawtooth"}) end,
     "CyclicLR: bad option 'mode'.*sawtooth"},
    {function(o) return S.CyclicLR(o, {0.1}, 0.2) end, "CyclicLR: expected 2 values for base_lr, got 1"},
    {function(o) return S.CyclicLR(o, "low", 0.2) end,
     "CyclicLR: bad argument 'base_lr' %(number expected, got low%)"},
    {function() return S.CyclicLR(optim.Adagrad({lt.zeros(1, {requires_grad = true})}), 0.01, 0.1) end,
     "CyclicLR: optimizer must support momentum"},
    {function() return S.ChainedScheduler({}) end, "ChainedScheduler: bad argument #1 'schedulers'"},
    {function(o) return S.ChainedScheduler({S.ReduceLROnPlateau(o)}) end,
     "ReduceLROnPlateau, which can't be chained"},
    {function(o) return S.ChainedScheduler({S.ExponentialLR(o, 0.9), S.ExponentialLR(sched_opt(), 0.9)}) end,
     "schedulers%[2%] has a different optimizer"},
  }
  for i, c in ipairs(cases) do
    it(("case %d: %s"):format(i, c[2]:gsub("%%", "")), function()
      local ok, err = pcall(c[1], sched_opt())
      assert.is_false(ok)
      assert.is_truthy(tostring(err):find(c[2]), tostring(err))
    end)
  end
end)

-- ------------------------------------------------------------------ CUDA

describe("optimizers on CUDA vs CPU #cuda", function()
  local seen = {}
  for _, case in ipairs(REF.optim) do
    if not seen[case.name] then
      seen[case.name] = true
      it(case.name .. " 8 steps, float32", function()
        if not H.has_cuda() then pending("no GPU") return end
        local xc, wc, lc = problem("float32", "cpu")
        local xg, wg, lg = problem("float32", "cuda")
        local oc, og = make_opt(case, xc, wc), make_opt(case, xg, wg)
        steps(oc, lc, case.sign, 8)
        steps(og, lg, case.sign, 8)
        assert.are.equal("cuda:0", xg.device)
        close(flat(xg), flat(xc), 1e-4, "x")
        close(flat(wg), flat(wc), 1e-4, "w")
        local st = og.state[xg]
        for k, v in pairs(st) do
          if lt.is_tensor(v) then assert.are.equal("cuda:0", v.device, k) end
        end
      end)
    end
  end
  it("LBFGS strong_wolfe, 2 steps, float64", function()
    if not H.has_cuda() then pending("no GPU") return end
    local pc, fc = rosen_problem("float64", "cpu")
    local pg, fg = rosen_problem("float64", "cuda")
    local oc = optim.LBFGS({pc}, {line_search_fn = "strong_wolfe"})
    local og = optim.LBFGS({pg}, {line_search_fn = "strong_wolfe"})
    for _ = 1, 2 do
      oc:step(function() oc:zero_grad(); local l = fc(); l:backward(); return l end)
      og:step(function() og:zero_grad(); local l = fg(); l:backward(); return l end)
    end
    close(flat(pg), flat(pc), 1e-6, "iterate")
  end)
end)

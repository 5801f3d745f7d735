-- tests/nn_conv_norm_spec.lua - the convolution / normalisation / resampling
-- layers (Conv1d, ConvTranspose1d/2d, GroupNorm, InstanceNorm, RMSNorm,
-- Upsample/interpolate, PixelShuffle, adaptive/1-D pools, padding layers,
-- Unflatten): values against PyTorch (numbers computed offline with
-- torch 2.x in float64 on inputs sin(0.37 i + 0.1) etc., pasted below),
-- float64 gradient checks, state_dict names/shapes, error messages, and
-- CPU-vs-CUDA parity tagged #cuda (pending without a GPU).
local H = require "tests.helpers"
local lt = H.lt
local nn, F = lt.nn, lt.nn.functional

-- sin(a * i + b) for i = 0 .. numel-1, reshaped (float64): the spec's inputs,
-- generated identically in the reference script
local function seq(shape, a, b, dtype)
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  return (lt.arange(n, {dtype = "float64"}) * a + b):sin():reshape(shape):to(dtype or "float64")
end

local function flat(t) return t:detach():to{dtype = "float64", device = "cpu"}:reshape(-1) end

local function near(t, ref, tol)
  assert.tensor_near(flat(t), lt.tensor(ref, {dtype = "float64"}), tol or 1e-6)
end

local function shape_of(t) return table.concat(t.shape, ",") end

local function gc(fn, inputs, opts)
  local ok, msg = H.gradcheck(fn, inputs, opts)
  assert(ok, msg)
end

local function err(fn, pattern)
  local ok, msg = pcall(fn)
  assert.is_false(ok)
  assert.matches(pattern, tostring(msg))
end

local R = {}
R.ct2_y = {
  0.14248633, 0.07129033, 0.50487517, 0.08403128, 0.06108896, 0.49745559, 0.83892879, 0.87841401,
  1.09943462, 1.73391358, 1.64352679, 1.42063510, 1.58963535, 1.65118411, 1.43091908, 1.02969505,
  1.05038877, 0.61400532, 0.01042129, 0.10861663, 0.28849934, 0.20666106, 0.20344765, 0.34892467,
  0.66137195, 0.66999906, 1.07857255, 1.42376359, 1.21229066, 1.48427162, 1.11504082, 1.12668934,
  1.38069267, 1.43227645, 1.43503860, 1.27481538}
R.ct2_gx = {
  0.28890794, 1.75521777, 1.96009687, 1.74556481, 0.02796114, -1.22525507, -2.57645227,
  -5.08997818, 0.29736510, -0.43636988, -0.82534369, 0.26897672, -1.31449816, -1.19748455,
  1.43583293, 3.59664801}
R.ct2_gw = {
  0.93556147, 1.61059374, 0.89927434, 1.42510072, -0.80133450, -1.40720181, -0.95729498,
  -1.69013147, 0.43637365, 1.11885449, 0.87630378, 1.95626197, -0.37376620, -0.91544634,
  -0.55972806, -1.35901925, -0.40822116, -0.73211971, -0.73502441, -1.41856524, -0.02978055,
  0.02098380, 0.41139124, 1.00192635, -0.28202806, -0.59214150, -0.22196004, -0.64393672,
  -0.02057451, -0.11967516, -0.33226069, -0.51067334}
R.ct2_gb = {6.67735603, -5.71934168, 3.18279861, 0.23219155}
R.ct2b_y = {
  0.55599673, 0.68659606, 0.63508744, 0.52000996, -0.02238725, 0.29280709, 0.04836140, 0.37327644,
  -0.07786992, -0.08331906, 0.82847607, 0.67018124, 0.95795960, 2.20744439, 2.48798070, 1.50197503}
R.c1_y = {
  1.68399869, 2.83055069, 1.01952623, -0.49757472, -1.71514198, 0.05278073, -0.74258217,
  -0.98914684, 1.05884683, 2.38064887, 2.71346661, 0.66804201, 1.84407348, 0.82150571,
  -0.83462228, -0.74790641, 0.19835714, 1.90347544, -0.05898268, 1.66083972, 2.58389929,
  1.77502690, 0.10291897, -0.89715903}
R.c1s_y = {
  1.01543075, 2.67505777, 3.29341921, 2.13406552, 0.83063190, 1.19789346, -0.00875351,
  -1.74439445, -2.42600014, -2.05118735}
R.ct1_y = {
  -0.34341436, -0.66823845, -0.05788222, -0.06611638, 0.27548128, 0.58495151, 0.61155696,
  1.07699800, 1.64198967, 2.54416883, 1.84923938, 2.80761137, 1.92081793, 2.80567159, 1.84703751,
  1.54030850, 1.59728631, 1.88746222, 1.30379475, 1.27522264, 0.96768227, 0.62422925, 0.63444013,
  0.18077901}
R.gn_y = {
  -0.07118463, 0.14683948, 0.32701087, 1.34840050, 1.48177324, 1.33460280, 2.37680692, 1.87363371,
  1.26999919, 0.30315733, -0.26779046, -0.69433772, 0.10111423, 0.10341027, 0.17138542,
  0.84790384, 1.39869783, 2.00798552, -0.79327541, 0.72330806, 1.71003194, 1.72380583, 1.33028615,
  0.26504856}
R.in_y = {
  0.00695929, 0.22919915, 0.41285435, 0.53306804, 1.53553615, 1.31876781, 0.71812410, -0.18510067,
  2.33725223, 1.34909563, 0.46489331, -0.19568210, 0.12762698, 0.13339579, 0.30418344, 0.61687461,
  -0.07612083, 0.57013535, 1.19096658, 1.70234628, 1.36144628, 1.93721245, 1.25364338, -0.59674305}
R.in_rm = {-0.01459551, 0.05190160, 0.02400751}
R.in_rv = {0.90834109, 0.91272833, 0.90898365}
R.in_eval = {
  0.27016736, 0.36073054, 0.43557039, 0.48455770, 1.19758415, 1.14974332, 1.01718110, 0.81783915,
  0.45449132, 0.14695013, -0.12823767, -0.33382669, -0.00815372, -0.00696365, 0.02826878,
  0.09277503, 0.34847555, 0.59561715, 0.83303573, 1.02859780, 1.17432818, 1.22632779, 1.16459210,
  0.99747673}
R.rms_y = {
  0.03092867, 0.47096066, 1.10555629, 1.42407721, 0.24690816, 0.76994699, 0.86646203, 0.52940520,
  0.02961839, -0.34695354, -1.06559029, -1.52918174, -0.22626277, -0.75591543, -0.92804729,
  -0.66767028, -0.11205881, 0.15414329, 0.94737904, 1.58541552, 0.20619402, 0.73778127,
  0.97594732, 0.78577920}
R.rms2_y = {
  0.14824887, 0.67251911, 1.10576705, 1.38935460, 1.48489952, 1.37947026, 1.08733617, 0.64803624,
  0.12102763, -0.42236149, -0.90858597, -1.27183760, -1.27869110, -1.27266950, -1.09439807,
  -0.76800498, -0.33766603, 0.13837444, 0.59568658, 0.97237533, 1.21745764, 1.29776278,
  1.20242180, 0.94433868}
R.rms32_y = {
  0.15567912, 0.70622581, 1.16118813, 1.45898926, 1.24280941, 1.15456879, 0.91006273, 0.54238385,
  0.14908382, -0.52027178, -1.11921108, -1.56667030, -1.13889122, -1.13352799, -0.97474706,
  -0.68403864, -0.56404668, 0.23114449, 0.99505132, 1.62428272, 1.03787541, 1.10633504,
  1.02505744, 0.80504310}
R.nn_y = {
  0.09983342, 0.09983342, 0.45288629, 0.45288629, 0.74464312, 0.09983342, 0.09983342, 0.45288629,
  0.45288629, 0.74464312, 0.93561600, 0.93561600, 0.99995765, 0.99995765, 0.92895972}
R.bl_y = {
  0.09983342, 0.18809663, 0.36462307, 0.52582549, 0.67170391, 0.74464312, 0.30877906, 0.37899783,
  0.51943536, 0.63992116, 0.74045523, 0.79072227, 0.72667036, 0.76080022, 0.82905994, 0.86811250,
  0.87795788, 0.88288057, 0.93561600, 0.95170141, 0.98387224, 0.98220816, 0.94670920, 0.92895972}
R.blac_y = {
  0.09983342, 0.33520200, 0.55013856, 0.74464312, 0.51772471, 0.65685621, 0.76321512, 0.83680142,
  0.93561600, 0.97851043, 0.97629167, 0.92895972}
R.nne_y = {
  0.09983342, 0.45288629, 0.45288629, 0.74464312, 0.93561600, 0.99995765, 0.99995765, 0.92895972,
  0.93561600, 0.99995765, 0.99995765, 0.92895972}
R.blf_y = {
  0.09983342, 0.23482422, 0.44250238, 0.61592687, 0.74464312, 0.41939735, 0.51218037, 0.65492347,
  0.74759219, 0.81511711, 0.91103416, 0.93888213, 0.98172516, 0.95015423, 0.92353864, 0.82195993,
  0.76960355, 0.68905527, 0.55669551, 0.45538049, 0.73223144, 0.61911907, 0.44510003, 0.23807433,
  0.08150215}
R.blr_y = {
  0.09983342, 0.24105456, 0.45288629, 0.62794039, 0.74464312, 0.43414645, 0.52917380, 0.67171483,
  0.75970779, 0.81836976, 0.93561600, 0.96135266, 0.99995765, 0.95735889, 0.92895972, 0.81358527,
  0.75288016, 0.66182251, 0.51702011, 0.42048518, 0.73223144, 0.61389850, 0.43639908, 0.22346092,
  0.08150215}
R.lin_y = {
  0.09983342, 0.24105456, 0.45288629, 0.62794039, 0.74464312, 0.93561600, 0.96135266, 0.99995765,
  0.95735889, 0.92895972}
R.n10_y = {0.09983342, 0.45288629, 0.93561600, 0.92895972, 0.73223144, 0.08150215}
R.n10f_y = {0.09983341, 0.45288628, 0.93561602, 0.92895973, 0.73223144, 0.08150215}
R.ps_y = {
  0.00000000, 4.00000000, 1.00000000, 5.00000000, 8.00000000, 12.00000000, 9.00000000,
  13.00000000, 2.00000000, 6.00000000, 3.00000000, 7.00000000, 10.00000000, 14.00000000,
  11.00000000, 15.00000000}
R.pu_y = {
  0.00000000, 2.00000000, 8.00000000, 10.00000000, 1.00000000, 3.00000000, 9.00000000,
  11.00000000, 4.00000000, 6.00000000, 12.00000000, 14.00000000, 5.00000000, 7.00000000,
  13.00000000, 15.00000000}
R.amp_v = {
  0.45288629, 0.93561600, 0.99995765, 0.92895972, 0.99987171, 0.92641550, 0.74917435, 0.93799998,
  0.99987171, 0.92641550, 0.43025745, 0.11338502, 0.75367079, 0.99973934, 0.99973934, 0.72288135,
  0.92119811, 0.71815584, 0.94263714, 0.99956054, 0.92119811, 0.71815584, 0.12691556, 0.47701809}
R.amp_i = {1, 3, 4, 5, 21, 22, 19, 20, 21, 22, 24, 34, 1, 3, 3, 5, 21, 22, 19, 20, 21, 22, 33, 34}
R.mp1_v = {
  0.45288629, 0.93561600, 0.99995765, 0.92895972, 0.43639908, 0.08150215, -0.61185789,
  -0.98053840, -0.59171558, 0.10661169, 0.74917435, 0.93799998, 0.99987171, 0.92641550,
  0.43025745, -0.29095229}
R.mp1_i = {1, 3, 4, 5, 0, 1, 3, 6, 1, 3, 5, 6, 0, 1, 3, 5}
R.ap1_y = {
  0.27635985, 0.71104847, 0.95484445, 0.83059558, 0.25895062, -0.27159382, -0.81783788,
  -0.98285809, -0.71745166, -0.24842046, 0.43824584, 0.84358716, 0.96314360, 0.69474875,
  0.07133782, -0.45409307}
R.aap1_y = {
  0.43245427, 0.89340559, 0.88704960, 0.07782517, -0.58425386, -0.94073138, -0.56502027,
  0.10180190, 0.71537527, 0.88462017, 0.41084635, -0.27782595}
R.amp1_v = {
  0.74464312, 0.99995765, 0.99995765, 0.43639908, -0.28442571, -0.85647797, -0.26015749,
  0.45895149, 0.93799998, 0.99987171, 0.72757329, 0.07470829}
R.amp1_i = {2, 4, 4, 0, 2, 4, 2, 4, 6, 0, 2, 4}
R.refl_y = {
  0.45288629, 0.09983342, 0.45288629, 0.74464312, 0.45288629, 0.09983342, 0.99995765, 0.93561600,
  0.99995765, 0.92895972, 0.99995765, 0.93561600, 0.43639908, 0.73223144, 0.43639908, 0.08150215,
  0.43639908, 0.73223144, 0.99995765, 0.93561600, 0.99995765, 0.92895972, 0.99995765, 0.93561600}
R.repl_y = {
  0.09983342, 0.09983342, 0.45288629, 0.74464312, 0.74464312, 0.74464312, 0.93561600, 0.93561600,
  0.99995765, 0.92895972, 0.92895972, 0.92895972, 0.73223144, 0.73223144, 0.43639908, 0.08150215,
  0.08150215, 0.08150215, 0.73223144, 0.73223144, 0.43639908, 0.08150215, 0.08150215, 0.08150215}
R.const_y = {
  3.50000000, 3.50000000, 3.50000000, 3.50000000, 3.50000000, 3.50000000, 3.50000000, 3.50000000,
  3.50000000, 0.09983342, 0.45288629, 0.74464312, 3.50000000, 0.93561600, 0.99995765, 0.92895972,
  3.50000000, 0.73223144, 0.43639908, 0.08150215, 3.50000000, 3.50000000, 3.50000000, 3.50000000}

describe("conv_transpose2d", function()
  it("matches PyTorch with groups, stride, padding, output_padding (values and grads)", function()
    local x = seq({1, 4, 2, 2}, .37, .1):requires_grad_(true)
    local w = seq({4, 2, 2, 2}, .53, .2):requires_grad_(true)
    local b = seq({4}, .71, .3):requires_grad_(true)
    local y = F.conv_transpose2d(x, w, b, {stride = 2, padding = 1, output_padding = 1, groups = 2})
    assert.are.equal("1,4,3,3", shape_of(y))
    near(y, R.ct2_y)
    assert.are.equal("ConvTranspose2dBackward", y.grad_fn)
    local loss = (y * seq(y.shape, .29, .4)):sum()
    loss:backward()
    near(x.grad, R.ct2_gx)
    near(w.grad, R.ct2_gw)
    near(b.grad, R.ct2_gb)
    -- only some inputs requiring grad; an empty batch
    local w2 = seq({4, 2, 2, 2}, .53, .2):requires_grad_(true)
    local y2 = F.conv_transpose2d(x:detach(), w2, b:detach(), {stride = 2, padding = 1, output_padding = 1, groups = 2})
    local loss2 = (y2 * seq(y2.shape, .29, .4)):sum()
    loss2:backward()
    near(w2.grad, R.ct2_gw)
    local e = F.conv_transpose2d(lt.zeros(0, 4, 2, 2, {dtype = "float64"}), w2, nil, {stride = 2})
    assert.are.equal("0,2,4,4", shape_of(e))
  end)

  it("matches PyTorch with dilation and no bias; unbatched input", function()
    local x, w = seq({1, 2, 2, 3}, .37, .1), seq({2, 1, 2, 2}, .53, .2)
    local y = F.conv_transpose2d(x, w, nil, {dilation = {2, 1}})
    assert.are.equal("1,1,4,4", shape_of(y))
    near(y, R.ct2b_y)
    local yu = F.conv_transpose2d(x[1], w, nil, {dilation = {2, 1}})
    assert.are.equal("1,4,4", shape_of(yu))
    near(yu, R.ct2b_y)
  end)

  it("is the adjoint of conv2d (float32, larger, chunk-free path)", function()
    lt.manual_seed(3)
    local x, w = lt.randn(3, 6, 7, 5), lt.randn(6, 2, 3, 3)
    local y = lt.conv_transpose2d(x, w, nil, {stride = 2, padding = 1, groups = 3})
    local z = lt.zeros(y.shape):requires_grad_(true)
    lt.conv2d(z, w, nil, {stride = 2, padding = 1, groups = 3}):backward(x)
    assert.tensor_near(y, z.grad, 1e-4)
    -- 1x1 kernel, stride 1: the direct path (no col buffer)
    local w1 = lt.randn(6, 4, 1, 1)
    local y1 = F.conv_transpose2d(x, w1)
    local x2 = x:permute(1, 3, 4, 2):reshape(-1, 6)
    local ref = x2:matmul(w1:reshape(6, 4)):reshape(3, 7, 5, 4):permute(1, 4, 2, 3)
    assert.tensor_near(y1, ref, 1e-4)
  end)

  it("passes gradcheck (float64) for x, w, b", function()
    gc(function(x, w, b)
      return F.conv_transpose2d(x, w, b, {stride = {2, 1}, padding = {1, 0}, output_padding = {1, 0},
                                          dilation = {1, 2}, groups = 2})
    end, {seq({2, 4, 2, 3}, .37, .1), seq({4, 1, 2, 2}, .53, .2), seq({2}, .71, .3)})
    gc(function(x, w) return F.conv_transpose2d(x, w) end, {seq({1, 3, 2, 2}, .3, .1), seq({3, 2, 1, 1}, .5, .2)})
  end)

  it("raises errors naming the function, argument and shapes", function()
    local x, w = lt.randn(1, 4, 3, 3), lt.randn(4, 2, 3, 3)
    err(function() F.conv_transpose2d(lt.randn(1, 5, 3, 3), w) end,
        "conv_transpose2d: .*weight of size {4, 2, 3, 3}.*input{1, 5, 3, 3} to have 4 channels")
    err(function() F.conv_transpose2d(lt.randn(4, 3), w) end, "conv_transpose2d: expected 3D .* {4, 3}")
    err(function() F.conv_transpose2d(x, lt.randn(4, 2, 3)) end, "conv_transpose2d: expected 4%-dimensional weight")
    err(function() F.conv_transpose2d(x, w, lt.randn(3)) end, "conv_transpose2d: .*bias .* 2 elements.*{3}")
    err(function() F.conv_transpose2d(x, w, nil, {output_padding = 1}) end,
        "conv_transpose2d: output padding must be smaller than either stride or dilation")
    err(function() F.conv_transpose2d(x, w, nil, {groups = 3}) end, "conv_transpose2d: given groups=3")
    err(function() F.conv_transpose2d(x, w, nil, {stride = 0}) end, "conv_transpose2d: non%-positive stride")
    err(function() F.conv_transpose2d(x, w, nil, {padding = 3}) end, "conv_transpose2d: .*Output size is too small")
    err(function() F.conv_transpose2d(x, w:double()) end, "conv_transpose2d: input type %(float32%) and weight type %(float64%)")
    err(function() F.conv_transpose2d(x, w, nil, {strid = 1}) end, "conv_transpose2d: unknown option 'strid'")
    err(function() F.conv_transpose2d(x:long(), w:long()) end, "conv_transpose2d: .*floating point")
  end)
end)

describe("nn.ConvTranspose2d / ConvTranspose1d / Conv1d", function()
  it("have PyTorch's parameter names and shapes", function()
    local sd = nn.ConvTranspose2d(4, 6, {3, 2}, {groups = 2}):state_dict()
    assert.are.equal("4,3,3,2", shape_of(sd.weight))
    assert.are.equal("6", shape_of(sd.bias))
    sd = nn.Conv1d(4, 6, 3, {groups = 2}):state_dict()
    assert.are.equal("6,2,3", shape_of(sd.weight))
    assert.are.equal("6", shape_of(sd.bias))
    sd = nn.ConvTranspose1d(4, 6, 3):state_dict()
    assert.are.equal("4,6,3", shape_of(sd.weight))
    assert.is_nil(nn.Conv1d(2, 2, 3, {bias = false}):state_dict().bias)
  end)

  it("initialise as PyTorch (kaiming_uniform a=sqrt(5): bound 1/sqrt(fan_in))", function()
    lt.manual_seed(0)
    local m = nn.ConvTranspose2d(8, 6, 3, {groups = 2})  -- fan_in = 3 * 3 * 3 = 27
    local bound = 1 / math.sqrt(27)
    assert.is_true(m.weight:abs():max():item() <= bound + 1e-6)
    assert.is_true(m.weight:abs():max():item() > 0.8 * bound)
    assert.is_true(m.bias:abs():max():item() <= bound + 1e-6)
  end)

  it("compute the same as the functional forms and honour output_size", function()
    local m = nn.ConvTranspose2d(4, 4, 2, {stride = 2, padding = 1, groups = 2}):double()
    m.weight.data = seq({4, 2, 2, 2}, .53, .2)
    m.bias.data = seq({4}, .71, .3)
    local x = seq({1, 4, 2, 2}, .37, .1)
    assert.are.equal("1,4,2,2", shape_of(m(x)))
    near(m(x, {3, 3}), R.ct2_y)
    err(function() m(x, {5, 5}) end, "ConvTranspose2d: requested an output size of {5, 5}, but valid sizes range from 2 to 3")
    local m1 = nn.ConvTranspose1d(2, 3, 3, {stride = 2, padding = 1, output_padding = 1}):double()
    m1.weight.data, m1.bias.data = seq({2, 3, 3}, .53, .2), seq({3}, .71, .3)
    near(m1(seq({1, 2, 4}, .37, .1)), R.ct1_y)
    assert.are.equal("3,8", shape_of(m1(seq({2, 4}, .37, .1))))
    local c = nn.Conv1d(4, 4, 3, {stride = 2, padding = 1, groups = 2}):double()
    c.weight.data, c.bias.data = seq({4, 2, 3}, .53, .2), seq({4}, .71, .3)
    near(c(seq({2, 4, 5}, .37, .1)), R.c1_y)
    assert.matches("ConvTranspose1d%(2, 3, kernel_size=%(3,%), stride=%(2,%), padding=%(1,%), output_padding=%(1,%)%)",
                   tostring(m1))
  end)

  it("F.conv1d matches PyTorch, with padding='same' (asymmetric)", function()
    local x, w, b = seq({2, 4, 5}, .37, .1), seq({4, 2, 3}, .53, .2), seq({4}, .71, .3)
    local y = F.conv1d(x, w, b, {stride = 2, padding = 1, groups = 2})
    assert.are.equal("2,4,3", shape_of(y))
    near(y, R.c1_y)
    near(F.conv1d(seq({1, 2, 5}, .37, .1), seq({2, 2, 4}, .53, .2), nil, {padding = "same"}), R.c1s_y)
    near(F.conv_transpose1d(seq({1, 2, 4}, .37, .1), seq({2, 3, 3}, .53, .2), seq({3}, .71, .3),
                            {stride = 2, padding = 1, output_padding = 1}), R.ct1_y)
  end)

  it("pass gradcheck (float64)", function()
    gc(function(x, w, b) return F.conv1d(x, w, b, {stride = 2, padding = 1, dilation = 2, groups = 2}) end,
       {seq({2, 4, 6}, .37, .1), seq({2, 2, 2}, .53, .2), seq({2}, .71, .3)})
    gc(function(x, w, b) return F.conv_transpose1d(x, w, b, {stride = 2, padding = 1, output_padding = 1}) end,
       {seq({2, 2, 3}, .37, .1), seq({2, 3, 3}, .53, .2), seq({3}, .71, .3)})
  end)

  it("raise errors naming the module / function and shapes", function()
    err(function() nn.Conv1d(3, 4, 3)(lt.randn(2, 5, 7)) end,
        "Conv1d: expected input with 3 channels %(dim 2%), got input of shape {2, 5, 7}")
    err(function() nn.Conv1d(3, 4, 3)(lt.randn(2, 3, 7, 1)) end,
        "Conv1d: expected 2D %(unbatched%) or 3D %(batched%) input, got input of shape {2, 3, 7, 1}")
    err(function() nn.ConvTranspose2d(3, 4, 3)(lt.randn(2, 4, 5, 5)) end,
        "ConvTranspose2d: expected input with 3 channels %(dim 2%), got input of shape {2, 4, 5, 5}")
    err(function() nn.ConvTranspose2d(3, 4, 3, {groups = 2}) end, "ConvTranspose2d: in_channels must be divisible by groups")
    err(function() nn.Conv1d(3, 4, 3, {stride = 2, padding = "same"}) end, "Conv1d: padding='same' is not supported")
    err(function() F.conv1d(lt.randn(2, 3, 7), lt.randn(4, 2, 3)) end,
        "conv1d: .*weight of size {4, 2, 3}, expected input {2, 3, 7} to have 2 channels, but got 3")
    err(function() F.conv1d(lt.randn(2, 3, 7), lt.randn(4, 3)) end, "conv1d: expected 3%-dimensional weight")
    err(function() F.conv_transpose1d(lt.randn(2, 3, 7), lt.randn(4, 2, 3)) end,
        "conv_transpose1d: weight of size {4, 2, 3} expects input {2, 3, 7} to have 4 channels")
  end)
end)

describe("group_norm / instance_norm / rms_norm", function()
  it("F.group_norm matches PyTorch", function()
    near(F.group_norm(seq({2, 4, 3}, .37, .1), 2, seq({4}, .53, .2), seq({4}, .71, .3)), R.gn_y)
  end)

  it("F.instance_norm matches PyTorch, running stats included", function()
    local rm, rv = lt.zeros(3, {dtype = "float64"}), lt.ones(3, {dtype = "float64"})
    local x, w, b = seq({2, 3, 2, 2}, .37, .1), seq({3}, .53, .2), seq({3}, .71, .3)
    near(F.instance_norm(x, rm, rv, w, b, true, 0.1), R.in_y)
    near(rm, R.in_rm)
    near(rv, R.in_rv)
    near(F.instance_norm(x, seq({3}, .3, .2), seq({3}, .4, .1):abs() + 0.5, w, b, false), R.in_eval)
  end)

  it("F.rms_norm matches PyTorch (eps nil = finfo eps; float32 too)", function()
    local x = seq({2, 3, 4}, .37, .1)
    near(F.rms_norm(x, {4}, seq({4}, .53, .2)), R.rms_y)
    near(F.rms_norm(x, {3, 4}, nil, 1e-3), R.rms2_y)
    local y32 = F.rms_norm(x:float(), 4)
    assert.are.equal("float32", y32.dtype)
    near(y32, R.rms32_y, 1e-5)
  end)

  it("modules: PyTorch names, shapes, defaults and values", function()
    local g = nn.GroupNorm(2, 4)
    assert.are.equal("4", shape_of(g.weight))
    assert.are.equal(1.0, g.weight:min():item())
    assert.are.equal(0.0, g.bias:abs():max():item())
    g:double()
    g.weight.data, g.bias.data = seq({4}, .53, .2), seq({4}, .71, .3)
    near(g(seq({2, 4, 3}, .37, .1)), R.gn_y)
    assert.is_nil(nn.GroupNorm(2, 4, {affine = false}):state_dict().weight)

    local r = nn.RMSNorm({3, 4})
    local keys = {}
    for k in pairs(r:state_dict()) do keys[#keys + 1] = k end
    assert.are.same({"weight"}, keys)
    assert.are.equal("3,4", shape_of(r.weight))
    near(nn.RMSNorm({3, 4}, {eps = 1e-3, elementwise_affine = false})(seq({2, 3, 4}, .37, .1)), R.rms2_y)

    local inn = nn.InstanceNorm2d(3, {affine = true, track_running_stats = true}):double()
    local sd = inn:state_dict()
    for _, k in ipairs({"weight", "bias", "running_mean", "running_var"}) do assert.are.equal("3", shape_of(sd[k])) end
    assert.are.equal("", shape_of(sd.num_batches_tracked))
    inn.weight.data, inn.bias.data = seq({3}, .53, .2), seq({3}, .71, .3)
    near(inn(seq({2, 3, 2, 2}, .37, .1)), R.in_y)
    near(inn.running_mean, R.in_rm)
    near(inn.running_var, R.in_rv)
    assert.are.equal(1, inn.num_batches_tracked:item())
    inn:eval()
    inn.running_mean:copy_(seq({3}, .3, .2))
    inn.running_var:copy_(seq({3}, .4, .1):abs() + 0.5)
    near(inn(seq({2, 3, 2, 2}, .37, .1)), R.in_eval)
    local plain = nn.InstanceNorm1d(3)
    assert.is_nil(next(plain:state_dict()))
    assert.are.equal("3,5", shape_of(plain(lt.randn(3, 5))))  -- unbatched
    local y = nn.InstanceNorm2d(3)(lt.randn(2, 3, 4, 4))
    assert.is_true(y:mean({3, 4}):abs():max():item() < 1e-5)
  end)

  it("pass gradcheck (float64)", function()
    gc(function(x, w, b) return F.group_norm(x, 2, w, b) end,
       {seq({2, 4, 3}, .37, .1), seq({4}, .53, .2), seq({4}, .71, .3)})
    gc(function(x, w, b) return F.instance_norm(x, nil, nil, w, b) end,
       {seq({2, 2, 2, 2}, .37, .1), seq({2}, .53, .2), seq({2}, .71, .3)})
    gc(function(x, w) return F.rms_norm(x, {4}, w, 1e-5) end, {seq({2, 3, 4}, .37, .1), seq({4}, .53, .2)})
  end)

  it("raise errors naming the module / function and shapes", function()
    err(function() nn.GroupNorm(3, 4) end, "GroupNorm: num_channels %(4%) must be divisible by num_groups %(3%)")
    err(function() nn.GroupNorm(2, 4)(lt.randn(2, 6, 3)) end, "GroupNorm: expected input of shape %(N, 4, ...%), got {2, 6, 3}")
    err(function() F.group_norm(lt.randn(2, 6, 3), 4) end,
        "group_norm: expected number of channels in input {2, 6, 3} to be divisible by num_groups=4")
    err(function() F.group_norm(lt.randn(2, 4, 3), 2, lt.randn(3)) end,
        "group_norm: expected 'weight' of shape {4} for input of shape {2, 4, 3}, got {3}")
    err(function() nn.InstanceNorm2d(3)(lt.randn(2, 3)) end,
        "InstanceNorm2d: expected 3D %(unbatched%) or 4D %(batched%) input, got input of shape {2, 3}")
    err(function() nn.InstanceNorm2d(3, {affine = true})(lt.randn(2, 4, 5, 5)) end,
        "InstanceNorm2d: expected input with 3 channels %(dim 2%), got input of shape {2, 4, 5, 5}")
    err(function() nn.RMSNorm(4)(lt.randn(2, 3)) end, "RMSNorm: expected input with trailing dims {4}, got {2, 3}")
    err(function() F.rms_norm(lt.randn(2, 3), {3}, lt.randn(4)) end, "rms_norm: expected 'weight' of shape {3}, got {4}")
    err(function() F.rms_norm(lt.randn(2, 3), {2}) end,
        "rms_norm: normalized_shape {2} does not match the trailing dims of input shape {2, 3}")
  end)
end)

describe("interpolate / Upsample / PixelShuffle", function()
  local x = seq({1, 1, 2, 3}, .37, .1)

  it("match PyTorch in every mode", function()
    near(F.interpolate(x, {size = {3, 5}}), R.nn_y)
    near(F.interpolate(x, {scale_factor = 2, mode = "bilinear", align_corners = false}), R.bl_y)
    near(F.interpolate(x, {size = {3, 4}, mode = "bilinear", align_corners = true}), R.blac_y)
    near(F.interpolate(x, {scale_factor = 1.5, mode = "nearest-exact"}), R.nne_y)
    local x3 = seq({1, 1, 3, 3}, .37, .1)
    near(F.interpolate(x3, {scale_factor = 1.7, mode = "bilinear"}), R.blf_y)
    near(F.interpolate(x3, {scale_factor = 1.7, mode = "bilinear", recompute_scale_factor = true}), R.blr_y)
    near(F.interpolate(seq({1, 2, 3}, .37, .1), {size = 5, mode = "linear"}), R.lin_y)
    near(F.interpolate(seq({1, 1, 10}, .37, .1), {size = 6}), R.n10_y)
    -- integer factors (the reshape/expand path): each source repeated k times
    local up = F.interpolate(x, {scale_factor = {3, 2}})
    local ref = x:index_select(3, lt.tensor{1, 1, 1, 2, 2, 2}):index_select(4, lt.tensor{1, 1, 2, 2, 3, 3})
    assert.tensor_near(up, ref, 0)
    assert.tensor_near(F.interpolate(x, {size = {6, 6}, mode = "nearest-exact"}), ref, 0)
    near(F.interpolate(seq({1, 1, 10}, .37, .1, "float32"), {size = 6}), R.n10f_y, 1e-6)
    local up = nn.Upsample{scale_factor = 2, mode = "bilinear"}
    near(up(x), R.bl_y)
    near(nn.UpsamplingBilinear2d{size = {3, 4}}(x), R.blac_y)
    near(nn.UpsamplingNearest2d{size = {3, 5}}(x), R.nn_y)
    assert.are.equal("Upsample(scale_factor=2, mode='bilinear')", tostring(up))
  end)

  it("pixel_shuffle / pixel_unshuffle match PyTorch and invert each other", function()
    local y = nn.PixelShuffle(2)(lt.arange(16):double():reshape(1, 4, 2, 2))
    assert.are.equal("1,1,4,4", shape_of(y))
    near(y, R.ps_y)
    local z = nn.PixelUnshuffle(2)(lt.arange(16):double():reshape(1, 1, 4, 4))
    assert.are.equal("1,4,2,2", shape_of(z))
    near(z, R.pu_y)
    local r = lt.randn(2, 3, 8, 4, 6)
    assert.tensor_near(F.pixel_shuffle(F.pixel_unshuffle(r, 2), 2), r, 0)
  end)

  it("pass gradcheck (float64)", function()
    local x3 = seq({1, 2, 3, 3}, .37, .1)
    gc(function(t) return F.interpolate(t, {scale_factor = 1.7, mode = "bilinear"}) end, {x3})
    gc(function(t) return F.interpolate(t, {size = {4, 5}, mode = "bilinear", align_corners = true}) end, {x3})
    gc(function(t) return F.interpolate(t, {size = {5, 2}}) end, {x3})
    gc(function(t) return F.interpolate(t, {scale_factor = 2}) end, {x3})
    gc(function(t) return F.interpolate(t, {size = 7, mode = "linear"}) end, {seq({2, 2, 3}, .37, .1)})
    gc(function(t) return F.pixel_shuffle(t, 2) end, {seq({1, 8, 2, 3}, .37, .1)})
    gc(function(t) return F.pixel_unshuffle(t, 2) end, {seq({1, 2, 2, 4}, .37, .1)})
  end)

  it("raise errors naming the function and shapes", function()
    err(function() F.interpolate(lt.randn(1, 2, 3), {scale_factor = 2, mode = "bilinear"}) end,
        "interpolate: mode 'bilinear' expects 4%-D input, got shape {1, 2, 3}")
    err(function() F.interpolate(lt.randn(2, 3), {scale_factor = 2}) end,
        "interpolate: expected 3%-D %(N, C, L%) or 4%-D %(N, C, H, W%) input, got shape {2, 3}")
    err(function() F.interpolate(x, {size = 3, scale_factor = 2}) end, "interpolate: only one of size or scale_factor")
    err(function() F.interpolate(x, {}) end, "interpolate: either size or scale_factor")
    err(function() F.interpolate(x, {size = 3, align_corners = true}) end, "interpolate: align_corners option can only be set")
    err(function() F.interpolate(x, {size = {1, 2, 3}}) end, "interpolate: option 'size' has 3 values for input shape {1, 1, 2, 3}")
    err(function() F.interpolate(x, {size = 3, mode = "bicubic"}) end, "interpolate: bad option 'mode' %('bicubic'")
    err(function() nn.Upsample{} end, "Upsample: exactly one of 'size' or 'scale_factor'")
    err(function() nn.PixelShuffle(2)(lt.randn(1, 6, 2, 2)) end,
        "pixel_shuffle: channels 6 of input shape {1, 6, 2, 2} are not divisible by upscale_factor%^2 = 4")
    err(function() nn.PixelUnshuffle(2)(lt.randn(1, 1, 3, 4)) end,
        "pixel_unshuffle: height and width of input shape {1, 1, 3, 4} must be divisible by downscale_factor 2")
    err(function() nn.PixelShuffle(2)(lt.randn(4, 4)) end, "pixel_shuffle: expected input of 3 to 6 dims")
  end)
end)

describe("adaptive max and 1-D pooling", function()
  it("match PyTorch (values and indices)", function()
    local v, i = nn.AdaptiveMaxPool2d({3, 4}, true)(seq({1, 2, 5, 7}, .37, .1))
    near(v, R.amp_v)
    assert.are.same(R.amp_i, i:reshape(-1):tolist())
    assert.are.equal("int64", i.dtype)
    local x = seq({2, 2, 7}, .37, .1)
    v, i = nn.MaxPool1d(3, {stride = 2, padding = 1, return_indices = true})(x)
    near(v, R.mp1_v)
    assert.are.same(R.mp1_i, i:reshape(-1):tolist())
    near(nn.AvgPool1d(3, {stride = 2, padding = 1, count_include_pad = false})(x), R.ap1_y)
    near(nn.AdaptiveAvgPool1d(3)(x), R.aap1_y)
    v, i = nn.AdaptiveMaxPool1d(3, true)(x)
    near(v, R.amp1_v)
    assert.are.same(R.amp1_i, i:reshape(-1):tolist())
    -- evenly dividing sizes take max_pool2d's path; unbatched input
    local y = F.adaptive_max_pool2d(seq({2, 4, 6}, .37, .1), {2, 3})
    assert.are.equal("2,2,3", shape_of(y))
    assert.tensor_near(y, F.max_pool2d(seq({2, 4, 6}, .37, .1), 2), 0)
  end)

  it("pass gradcheck (float64)", function()
    local x = seq({1, 2, 5, 7}, .37, .1)
    gc(function(t) return F.adaptive_max_pool2d(t, {3, 4}) end, {x})
    local x1 = seq({2, 2, 7}, .37, .1)
    gc(function(t) return F.max_pool1d(t, 3, {stride = 2, padding = 1}) end, {x1})
    gc(function(t) return F.avg_pool1d(t, 3, {stride = 2, padding = 1, count_include_pad = false}) end, {x1})
    gc(function(t) return F.adaptive_avg_pool1d(t, 3) end, {x1})
    gc(function(t) return F.adaptive_max_pool1d(t, 3) end, {x1})
  end)

  it("raise errors naming the module and shapes", function()
    err(function() nn.MaxPool1d(2)(lt.randn(2, 3, 4, 5)) end,
        "MaxPool1d: expected 2D or 3D %(batch mode%) input, got input of shape {2, 3, 4, 5}")
    err(function() nn.AdaptiveMaxPool2d(2)(lt.randn(4, 5)) end,
        "AdaptiveMaxPool2d: expected 3D or 4D %(batch mode%) input, got input of shape {4, 5}")
    err(function() F.adaptive_max_pool2d(lt.randn(1, 4, 5), {0, 2}) end, "adaptive_max_pool2d: bad argument #2 'output_size'")
    err(function() F.avg_pool1d(lt.randn(1, 2, 5), 2, {dilation = 2}) end, "avg_pool1d: unknown option 'dilation'")
    err(function() nn.AdaptiveAvgPool1d(2)(lt.randn(5)) end, "AdaptiveAvgPool1d: expected 2D or 3D")
  end)
end)

describe("padding layers and Unflatten", function()
  local x = seq({1, 1, 3, 3}, .37, .1)

  it("match PyTorch", function()
    near(nn.ReflectionPad2d({1, 2, 0, 1})(x), R.refl_y)
    near(nn.ReplicationPad2d({1, 2, 0, 1})(x), R.repl_y)
    near(nn.ConstantPad2d({1, 0, 2, 1}, 3.5)(x), R.const_y)
    local z = nn.ZeroPad2d(1)(x)
    assert.are.equal("1,1,5,5", shape_of(z))
    assert.are.equal(0, z[1][1][1][1])
    assert.are.equal("1,3,6", shape_of(nn.ReflectionPad1d({1, 2})(x[1])))
    assert.are.equal("1,3,5", shape_of(nn.ReplicationPad1d(1)(x[1])))
    assert.are.equal("3,3,4", shape_of(nn.ConstantPad1d({0, 1}, 2)(x[1][1]:expand(3, 3, 3))))
    assert.are.equal("ReflectionPad2d((1, 2, 0, 1))", tostring(nn.ReflectionPad2d({1, 2, 0, 1})))
    assert.are.equal("ConstantPad2d((1, 1, 1, 1), value=2)", tostring(nn.ConstantPad2d(1, 2)))
    local u = nn.Unflatten(2, {2, -1})(lt.randn(3, 12, 5))
    assert.are.equal("3,2,6,5", shape_of(u))
    assert.are.equal("3,5,3,4", shape_of(nn.Unflatten(-1, {3, 4})(lt.randn(3, 5, 12))))
  end)

  it("pass gradcheck (float64)", function()
    gc(function(t) return nn.ReflectionPad2d({1, 2, 0, 1})(t) end, {x})
    gc(function(t) return nn.ReplicationPad2d({2, 0, 1, 2})(t) end, {x})
    gc(function(t) return nn.ConstantPad2d({1, 0, 2, 1}, 3.5)(t) end, {x})
  end)

  it("raise errors naming the module and shapes", function()
    err(function() nn.ReflectionPad2d(1)(lt.randn(3, 3)) end,
        "ReflectionPad2d: expected 3D or 4D input, got input of shape {3, 3}")
    err(function() nn.ReflectionPad2d(3)(lt.randn(1, 3, 3)) end, "pad: padding %(3, 3%) should be less than the size 3")
    err(function() nn.ZeroPad2d({1, 2, 3}) end, "ZeroPad2d: bad argument #1 'padding' %(integer or table of 4 integers")
    err(function() nn.ConstantPad2d(1) end, "ConstantPad2d: bad argument #2 'value'")
    err(function() nn.Unflatten(2, {4, 4})(lt.randn(3, 12)) end,
        "Unflatten: sizes {4, 4} do not multiply to the size 12 of dim 2 of input shape {3, 12}")
    err(function() nn.Unflatten(2, {-1, -1}) end, "Unflatten: only one size")
  end)
end)

describe("CPU-vs-CUDA parity #cuda", function()
  local function skip()
    if not H.has_cuda() then pending("no GPU") return true end
    return false
  end

  local function parity(f, tol, ...)
    local c = table.pack(f("cpu", ...))
    local g = table.pack(f("cuda", ...))
    for i = 1, c.n do
      assert.are.equal("cuda:0", g[i].device)
      assert.tensor_near(g[i]:cpu(), c[i], tol)
    end
  end

  it("conv_transpose2d forward and backward", function()
    if skip() then return end
    lt.manual_seed(7)
    local x, w, b = lt.randn(3, 6, 9, 7), lt.randn(6, 2, 3, 2), lt.randn(4)
    local dy
    parity(function(dev)
      local xl = x:to(dev):requires_grad_(true)
      local wl = w:to(dev):requires_grad_(true)
      local bl = b:to(dev):requires_grad_(true)
      local y = F.conv_transpose2d(xl, wl, bl, {stride = {2, 1}, padding = 1, output_padding = {1, 0},
                                                dilation = {1, 2}, groups = 2})
      dy = dy or lt.randn(y.shape)
      y:backward(dy:to(dev))
      return y, xl.grad, wl.grad, bl.grad
    end, 1e-3)
  end)

  it("group_norm / instance_norm / rms_norm forward and backward", function()
    if skip() then return end
    lt.manual_seed(8)
    local x, w, b = lt.randn(4, 6, 5, 5), lt.randn(6), lt.randn(6)
    parity(function(dev)
      local xl, wl, bl = x:to(dev):requires_grad_(true), w:to(dev):requires_grad_(true), b:to(dev):requires_grad_(true)
      local y = F.group_norm(xl, 3, wl, bl) + F.instance_norm(xl, nil, nil, wl, bl) + F.rms_norm(xl, {5}, nil)
      y:sum():backward()
      return y, xl.grad, wl.grad, bl.grad
    end, 1e-3)
  end)

  it("interpolate (nearest, bilinear) and adaptive_max_pool2d forward and backward", function()
    if skip() then return end
    lt.manual_seed(9)
    local x = lt.randn(2, 3, 7, 5)
    parity(function(dev)
      local xl = x:to(dev):requires_grad_(true)
      local a = F.interpolate(xl, {scale_factor = 1.7, mode = "bilinear"})
      local c = F.interpolate(xl, {size = {9, 11}, mode = "bilinear", align_corners = true})
      local n = F.interpolate(xl, {size = {10, 3}})
      local m, idx = F.adaptive_max_pool2d(xl, {3, 4}, true)
      local loss = a:sum() + (c * c):sum() + n:sum() * 2 + m:sum()
      loss:backward()
      return a, c, n, m, idx, xl.grad
    end, 1e-4)
  end)
end)

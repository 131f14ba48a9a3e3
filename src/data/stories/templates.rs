//! The story lexicon and templates. A template is a sentence with `{X}` slots bound once per
//! story (`{A}` the hero's name, `{A.sub}`/`{A.Sub}`/`{A.obj}`/`{A.pos}`/`{A.Pos}` pronouns,
//! `{A.kind}`; the same for `{B}` the friend and `{H}` the parent; `{O}`/`{O.adj}` the hero's toy,
//! `{P}` the place, `{W}` water, `{F}` food, `{N}` a found animal, `{X}` a spot) and `(a|b|)`
//! alternatives of one word or none. Quotes only ever end a sentence, so sentences split at
//! `.`, `!` or `?` (plus a closing quote) followed by a space.

// ---------------------------------------------------------------------------------------------
// Lexicon

pub(super) const GIRL_NAMES: &[&str] = &[
    "Lily", "Mia", "Emma", "Lucy", "Sara", "Anna", "Zoe", "Ella", "Amy", "Rosa", "Nina", "Sue", "Kate", "Jane",
    "Ruby", "Daisy",
];

pub(super) const BOY_NAMES: &[&str] = &[
    "Tom", "Ben", "Sam", "Max", "Leo", "Jack", "Tim", "Noah", "Finn", "Joe", "Dan", "Bob", "Luke", "Hugo",
    "Eli", "Ned",
];

pub(super) const PET_NAMES: &[&str] = &[
    "Buddy", "Spot", "Coco", "Pip", "Fluffy", "Rex", "Bella", "Milo", "Penny", "Rusty", "Sunny", "Tiny",
];

pub(super) const ANIMAL_KINDS: &[&str] = &[
    "dog", "cat", "bunny", "bird", "bear", "duck",
];

pub(super) const FOUND_ANIMALS: &[&str] = &[
    "puppy", "kitten", "bird", "squirrel", "duck", "bunny", "mouse", "frog",
];

/// (word, subject, object, possessive)
pub(super) const PARENTS: &[(&str, &str, &str, &str)] = &[
    ("mom", "she", "her", "her"), ("dad", "he", "him", "his"), ("grandma", "she", "her", "her"),
    ("grandpa", "he", "him", "his"),
];

pub(super) const OBJECTS: &[&str] = &[
    "ball", "kite", "doll", "car", "truck", "boat", "hat", "book", "drum", "bike", "blanket", "balloon",
    "robot", "train", "bucket", "scarf", "ring", "shell", "crown", "whistle",
];

pub(super) const OBJECT_ADJS: &[&str] = &[
    "red", "blue", "green", "yellow", "pink", "purple", "orange", "big", "little", "shiny", "new", "small",
];

pub(super) const PLACES: &[&str] = &[
    "park", "garden", "beach", "forest", "playground", "farm", "yard", "meadow", "hill", "field",
];

pub(super) const WATERS: &[&str] = &[
    "pond", "river", "puddle", "lake", "stream",
];

pub(super) const FOODS: &[&str] = &[
    "apple", "cookie", "carrot", "sandwich", "banana", "muffin", "cracker", "pear", "plum",
];

pub(super) const SPOTS: &[&str] = &[
    "bench", "bush", "slide", "rock", "tree", "log", "swing",
];

// ---------------------------------------------------------------------------------------------
// Templates, one list per story beat

pub(super) const OPEN: &[&str] = &[
    "Once upon a time, there was a (little|young|happy) {A.kind} named {A}.",
    "There was once a (little|kind|sweet|happy) {A.kind} called {A}.",
    "{A} was a (little|young|happy) {A.kind} who loved to play.",
    "One (sunny|bright|warm) (day|morning), a {A.kind} named {A} woke up (early|happy).",
];

pub(super) const HAS: &[&str] = &[
    "{A.Sub} had a {O.adj} {O}.",
    "{A} had a {O.adj} {O} that {A.sub} loved very much.",
    "{A.Pos} favorite toy was a {O.adj} {O}.",
    "{A} loved {A.pos} {O.adj} {O} more than anything.",
];

pub(super) const GO: &[&str] = &[
    "One day, {A} took {A.pos} {O} to the {P}.",
    "{A} went to the {P} with {A.pos} {O}.",
    "(One|That) (day|morning|afternoon), {A} and {A.pos} {O} went to the {P}.",
    "{A.Sub} wanted to play with the {O} at the {P}.",
];

pub(super) const LOSS_WIND: &[&str] = &[
    "Then a (big|strong) wind came and blew the {O} into a tall tree.",
    "Suddenly, the wind blew {A.pos} {O} up into a tree.",
];

pub(super) const LOSS_WATER: &[&str] = &[
    "The {O} rolled into the {W}.",
    "Oh no, the {O} fell into the {W}!",
    "Oops, the {O} fell into the {W}!",
];

pub(super) const LOSS_THROW: &[&str] = &[
    "{A} threw the {O} too high, and it got stuck in a tree.",
    "The {O} flew up and got stuck in a tree.",
];

pub(super) const LOSS_LOST: &[&str] = &[
    "When {A} looked around, the {O} was gone.",
    "{A} could not find {A.pos} {O} anywhere.",
];

pub(super) const SAD: &[&str] = &[
    "{A} was (very|so|) (sad|upset).",
    "{A.Sub} started to cry.",
    "{A} felt sad and did not know what to do.",
];

pub(super) const FRIEND: &[&str] = &[
    "Then a {B.kind} named {B} came (by|over|along).",
    "Just then, a (kind|friendly|brave) {B.kind} named {B} walked by.",
    "Soon, {A.pos} friend {B} came to the {P}.",
];

pub(super) const ASK: &[&str] = &[
    "{B} asked, \"Why are you sad, {A}?\"",
    "{B} said, \"Do not cry, {A}, I will help you!\"",
    "{B} saw that {A} was sad and wanted to help.",
];

pub(super) const HELP_TREE: &[&str] = &[
    "{B} climbed the tree and got the {O} down.",
    "{B} used a long stick to knock the {O} out of the tree.",
];

pub(super) const HELP_WATER: &[&str] = &[
    "{B} used a long stick to pull the {O} out of the {W}.",
    "{B} reached into the {W} and got the {O}.",
];

pub(super) const HELP_LOST: &[&str] = &[
    "{B} looked (under|behind) the {X} and found the {O}.",
    "{B} helped {A} look, and {B.sub} found the {O} (under|behind|near) the {X}.",
];

pub(super) const GIVE_BACK: &[&str] = &[
    "{B} gave the {O} back to {A}.",
    "{B} gave {A} the {O}.",
    "{B} handed the {O} to {A}.",
];

pub(super) const THANK: &[&str] = &[
    "{A} hugged {B} and said, \"Thank you, {B}!\"",
    "{A} smiled and said, \"You are a good friend, {B}!\"",
    "{A} was so happy that {A.sub} gave {B} a big hug.",
];

pub(super) const END_FRIENDS: &[&str] = &[
    "From that day on, {A} and {B} were best friends.",
    "{A} and {B} played with the {O} until the sun went down.",
    "After that, {A} always kept {A.pos} {O} close.",
    "{A} learned that friends help each other.",
];

pub(super) const PLAYING: &[&str] = &[
    "One day, {A} was playing with {A.pos} {O} at the {P}.",
    "{A} took {A.pos} {O} to the {P} to play.",
];

pub(super) const WANTS: &[&str] = &[
    "A {B.kind} named {B} saw the {O} and wanted to play with it.",
    "Then {A.pos} friend {B} came and asked, \"Can I play with your {O}, {A}?\"",
    "A (little|small|shy) {B.kind} named {B} looked at the {O} for a long time.",
];

pub(super) const REFUSE: &[&str] = &[
    "But {A} did not want to share.",
    "{A} said, \"No, it is my {O}!\"",
    "{A} held the {O} close and said no.",
];

pub(super) const FRIEND_SAD: &[&str] = &[
    "{B} was sad and walked away.",
    "{B} looked at the ground and felt sad.",
];

pub(super) const REFLECT: &[&str] = &[
    "{A} saw that {B} was sad.",
    "Then {A} felt bad.",
    "{A} thought about it and felt sorry.",
];

pub(super) const SHARE: &[&str] = &[
    "{A} gave the {O} to {B}.",
    "{A} ran to {B} and said, \"Here, you can play with my {O}!\"",
    "{A} (decided|wanted) to share the {O} with {B}.",
];

pub(super) const PLAY_TOGETHER: &[&str] = &[
    "{B} smiled, and they played with the {O} together.",
    "They took turns with the {O} and laughed a lot.",
];

pub(super) const END_SHARE: &[&str] = &[
    "{A} learned that sharing is (fun|good|kind).",
    "From that day on, {A} and {B} were best friends.",
    "It was the best day at the {P}.",
];

pub(super) const PLAY_DAILY: &[&str] = &[
    "{A} played with the {O} every day.",
    "Every day, {A} liked to play with the {O} in the {P}.",
];

pub(super) const BREAK: &[&str] = &[
    "One day, the {O} fell and broke.",
    "One day, {A} dropped the {O}, and it broke.",
    "Oh no, the {O} broke!",
];

pub(super) const TO_PARENT: &[&str] = &[
    "{A} ran to {A.pos} {H} and showed {H.obj} the broken {O}.",
    "{A.Pos} {H} saw {A} crying and came to help.",
    "{A} took the broken {O} to {A.pos} {H}.",
];

pub(super) const FIX: &[&str] = &[
    "{A.Pos} {H} used some glue to fix the {O}.",
    "{H.Sub} worked hard and fixed the {O}.",
    "With a little tape, {A.pos} {H} made the {O} as good as new.",
];

pub(super) const HAPPY_AGAIN: &[&str] = &[
    "{A} hugged {A.pos} {H} and said, \"Thank you!\"",
    "{A} was so happy to have {A.pos} {O} back.",
];

pub(super) const END_BROKEN: &[&str] = &[
    "After that, {A} was very careful with the {O}.",
    "{A} learned to be gentle with {A.pos} toys.",
    "{A} and the {O} were happy again.",
];

pub(super) const GO_SIMPLE: &[&str] = &[
    "One day, {A} went to the {P}.",
    "{A} and {A.pos} {H} went for a walk to the {P}.",
    "(One|That) (morning|afternoon), {A} played at the {P}.",
];

pub(super) const MEET: &[&str] = &[
    "There, {A.sub} saw a little {N} (under|behind|near) a tree.",
    "At the {P}, {A} found a small {N} (sitting|hiding) in the grass.",
];

pub(super) const HUNGRY: &[&str] = &[
    "The {N} looked (hungry|sad) and (tired|cold).",
    "The little {N} was very hungry.",
];

pub(super) const FOOD_HAVE: &[&str] = &[
    "{A} had a {F} in {A.pos} bag.",
    "{A} remembered that {A.sub} had a {F}.",
];

pub(super) const GIVE_FOOD: &[&str] = &[
    "{A.Sub} gave the {F} to the {N}.",
    "{A} shared {A.pos} {F} with the {N}.",
];

pub(super) const EAT: &[&str] = &[
    "The {N} ate the {F} and (felt|looked) much better.",
    "The {N} ate the {F} quickly and was (happy|glad).",
];

pub(super) const FOLLOW: &[&str] = &[
    "The {N} followed {A} all the way home.",
    "The {N} did not want to leave {A}.",
];

pub(super) const NAME_PET: &[&str] = &[
    "{A} named the {N} {B}.",
    "{A} decided to call the {N} {B}.",
];

pub(super) const END_PET: &[&str] = &[
    "From that day on, {A} and {B} were best friends.",
    "{A} and {B} played together every day.",
    "{B} was (happy|glad) to have a friend like {A}.",
];

pub(super) const PLAN: &[&str] = &[
    "{A} wanted to go to the {P} with {A.pos} friend {B}.",
    "{A} and {A.pos} friend {B} wanted to play at the {P}.",
];

pub(super) const RAIN: &[&str] = &[
    "But then it started to rain.",
    "Suddenly, dark clouds came, and it began to rain.",
];

pub(super) const SAD_RAIN: &[&str] = &[
    "{A} was sad because {A.sub} could not go outside.",
    "{A} looked out the window and felt sad.",
];

pub(super) const IDEA: &[&str] = &[
    "Then {A.pos} {H} had an idea.",
    "{A.Pos} {H} said, \"You can play inside with {B}!\"",
];

pub(super) const PLAY_INSIDE: &[&str] = &[
    "{A} and {B} played with the {O} inside.",
    "{B} came over, and they played with the {O} in the house.",
    "They built a fort and played with {A.pos} {O}.",
];

pub(super) const SUN: &[&str] = &[
    "Soon the rain stopped, and the sun came out.",
    "After a while, the sun came out again.",
];

pub(super) const GO_OUT: &[&str] = &[
    "When the rain stopped, {A} and {B} ran to the {P}.",
    "Later, they went to the {P} and jumped in the puddles.",
];

pub(super) const END_RAIN: &[&str] = &[
    "It was a (fun|great|wonderful) day.",
    "{A} and {B} had a lot of fun together.",
    "{A} learned that a rainy day can be fun too.",
];

pub(super) const ALL_BEATS: &[&[&str]] = &[
    OPEN, HAS, GO, LOSS_WIND, LOSS_WATER, LOSS_THROW, LOSS_LOST, SAD, FRIEND, ASK, HELP_TREE, HELP_WATER,
    HELP_LOST, GIVE_BACK, THANK, END_FRIENDS, PLAYING, WANTS, REFUSE, FRIEND_SAD, REFLECT, SHARE, PLAY_TOGETHER,
    END_SHARE, PLAY_DAILY, BREAK, TO_PARENT, FIX, HAPPY_AGAIN, END_BROKEN, GO_SIMPLE, MEET, HUNGRY, FOOD_HAVE,
    GIVE_FOOD, EAT, FOLLOW, NAME_PET, END_PET, PLAN, RAIN, SAD_RAIN, IDEA, PLAY_INSIDE, SUN, GO_OUT, END_RAIN,
];
